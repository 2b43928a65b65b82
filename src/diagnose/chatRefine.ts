/**
 * After the deterministic report: the chat's language model (`request.model`) gets the report as
 * numbered evidence (chatText.refinementPrompt) and PyFlight's language-model tools, and explains
 * it, citing the evidence; tool calls it makes run through `vscode.lm.invokeTool` (so tools that
 * load the agent ask first) and are listed in the answer. A model that fails or is missing leaves
 * the report as the answer: a note, never an error.
 */
import * as vscode from 'vscode';
import type { Logger } from '../common/logger';
import { refinementPrompt } from './chatText';
import type { DiagnosisReport } from './report';

const MAX_ROUNDS = 4;

export async function refineWithModel(request: vscode.ChatRequest, report: DiagnosisReport, stream: vscode.ChatResponseStream,
  token: vscode.CancellationToken, log: Logger): Promise<void> {
  const model = request.model;
  const tools = vscode.lm.tools.filter((t) => t.name.startsWith('pyflight_'));
  const messages = [vscode.LanguageModelChatMessage.User(refinementPrompt(report))];
  stream.markdown(`\n\n---\n\n**${model.name}** (language model) on this report:\n\n`);
  try {
    for (let round = 0; round < MAX_ROUNDS && !token.isCancellationRequested; round++) {
      const response = await model.sendRequest(messages, {
        tools: round < MAX_ROUNDS - 1 ? tools : [],
        justification: 'PyFlight asks the model to explain its diagnosis report, citing the evidence.',
      }, token);
      const calls: vscode.LanguageModelToolCallPart[] = [];
      let text = '';
      for await (const part of response.stream) {
        if (part instanceof vscode.LanguageModelTextPart) {
          text += part.value;
          stream.markdown(part.value);
        } else if (part instanceof vscode.LanguageModelToolCallPart) {
          calls.push(part);
        }
      }
      if (!calls.length) return;
      messages.push(vscode.LanguageModelChatMessage.Assistant([...(text ? [new vscode.LanguageModelTextPart(text)] : []), ...calls]));
      for (const call of calls) {
        stream.progress(`The model runs PyFlight's ${call.name} \`${JSON.stringify(call.input)}\`…`); // a code span: `__main__` keeps its underscores
        const result = await vscode.lm.invokeTool(call.name, { input: call.input, toolInvocationToken: request.toolInvocationToken }, token);
        const chars = result.content.reduce<number>((n, p) => n + (p instanceof vscode.LanguageModelTextPart ? p.value.length : 0), 0);
        log.info(`chat: the model called ${call.name} ${JSON.stringify(call.input)} (${chars} characters back)`);
        stream.markdown(`\n\n_The model ran \`${call.name}\` ${'`'}${JSON.stringify(call.input)}${'`'} (${chars} characters of results)._\n\n`);
        messages.push(vscode.LanguageModelChatMessage.User([new vscode.LanguageModelToolResultPart(call.callId, result.content)]));
      }
    }
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    log.warn(`chat: the language model could not refine the report: ${why}`);
    stream.markdown(`\n\n_The language model could not be asked (${why.replace(/[`*_]/g, '')}); the report above stands on its own._`);
  }
}
