/**
 * Registers the tools of tools.ts with `vscode.lm.registerTool` (agent mode and @pyflight's
 * language-model refinement use them). Thin glue: the confirmation of tools that load the agent is
 * their consent (`prepareInvocation`), errors are answered as text the model can read.
 */
import * as vscode from 'vscode';
import { PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { SessionManager } from '../session/sessionManager';
import { TOOLS, type ToolDef } from './tools';

export interface ToolRegistrationDeps {
  log: Logger;
  sessions: SessionManager;
}

function register(def: ToolDef, deps: ToolRegistrationDeps): vscode.Disposable {
  return vscode.lm.registerTool<Record<string, unknown>>(def.name, {
    prepareInvocation(options) {
      const invocationMessage = vscode.l10n.t('PyFlight: {0}', def.name.replace(/^pyflight_/, '').replace(/_/g, ' '));
      if (def.access === 'outside' || !def.confirm) return { invocationMessage };
      return { invocationMessage, confirmationMessages: { title: vscode.l10n.t('Run PyFlight in the target?'), message: def.confirm(options.input) } };
    },
    async invoke(options, token) {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      try {
        const { text } = await def.run({
          session: async (pid, signal) => {
            const session = await deps.sessions.attach(pid, undefined, signal);
            // The user confirmed this tool's invocation, which says that it loads the agent.
            if (def.access !== 'outside') session.approveAgentLoad();
            return session;
          },
          workspaceRoots: vscode.workspace.workspaceFolders?.map((f) => f.uri.fsPath),
        }, options.input, abort.signal);
        deps.log.info(`tool ${def.name} ${JSON.stringify(options.input)}: ${text.length} characters`);
        return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(text)]);
      } catch (error) {
        const failure = PyFlightError.from(error);
        deps.log.warn(`tool ${def.name} ${JSON.stringify(options.input)}: ${failure.message}`);
        return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(
          `PyFlight ${def.name} failed: ${failure.message}${failure.hint ? ` (${failure.hint})` : ''}`)]);
      } finally {
        sub.dispose();
      }
    },
  });
}

export function registerLanguageModelTools(context: vscode.ExtensionContext, deps: ToolRegistrationDeps): void {
  if (typeof vscode.lm?.registerTool !== 'function') return;
  for (const def of TOOLS) context.subscriptions.push(register(def, deps));
}
