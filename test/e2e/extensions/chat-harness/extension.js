// Test-only extension (never shipped): registers a fake language model and a default chat participant
// through proposed APIs (enabled with code-server --enable-proposed-api e2etest.chat-harness), so chat
// requests in the e2e workbench work without Copilot or network. Writes harness-activated.json to $E2E_OUT.
// Handles both the VS Code 1.100 proposed chatProvider API and the finalized provider API of later versions.
const vscode = require('vscode');
const fs = require('fs');
const path = require('path');
const OUT = process.env.E2E_OUT || require('os').tmpdir();
const textOf = (messages) => { const last = messages[messages.length - 1]; return (last.content || []).map(p => p.value || '').join(''); };

// SCRIPTED test model (not a language model): for PyFlight's refinement prompt ("PyFlight diagnosed
// process <pid>") it first calls the PyFlight tool pyflight_stacks on that pid, then answers with
// what the tool returned; it writes what it received to $E2E_OUT/scripted-model.json so a test can
// check the tool ran against its fixture. Anything else gets the plain echo below.
function scripted(messages) {
  const first = messages.map((m) => (m.content || []).map((p) => (p && p.value) || '').join('')).find((t) => /PyFlight diagnosed process \d+/.test(t));
  if (!first) return null;
  const pid = Number(/PyFlight diagnosed process (\d+)/.exec(first)[1]);
  const last = messages[messages.length - 1];
  const results = (last.content || []).filter((p) => p && p.callId !== undefined && Array.isArray(p.content));
  if (!results.length) return { toolCall: { callId: 'scripted-1', name: 'pyflight_stacks', input: { pid } } };
  const toolText = results.map((r) => r.content.map((c) => c.value || '').join('')).join('\n');
  try { fs.writeFileSync(path.join(OUT, 'scripted-model.json'), JSON.stringify({ pid, tool: 'pyflight_stacks', toolText })); } catch {}
  const threads = [...new Set([...toolText.matchAll(/Thread \d+ "([^"]+)"/g)].map((m) => m[1]))];
  return { text: `SCRIPTED MODEL (a test script, not a language model): pyflight_stacks on process ${pid} returned ${toolText.split('\n').length} lines; threads ${threads.join(', ')}. See [F1].` };
}
exports.activate = (context) => {
  const out = {};
  try {
    if (typeof vscode.lm.registerLanguageModelChatProvider === 'function') {
      // VS Code >= ~1.104: finalized provider API; the chat's default model must come from vendor "copilot"
      context.subscriptions.push(vscode.lm.registerLanguageModelChatProvider('copilot', {
        async provideLanguageModelChatInformation() {
          return [{ id: 'fake-model', name: 'Fake Model', family: 'fake', version: '1', maxInputTokens: 100000, maxOutputTokens: 4096, capabilities: { toolCalling: true }, isDefault: true, isUserSelectable: true }];
        },
        async provideLanguageModelChatResponse(model, messages, options, progress) {
          const s = scripted(messages);
          if (s && s.toolCall) progress.report(new vscode.LanguageModelToolCallPart(s.toolCall.callId, s.toolCall.name, s.toolCall.input));
          else progress.report(new vscode.LanguageModelTextPart(s ? s.text : 'FAKE-LM echo: ' + textOf(messages)));
        },
        async provideTokenCount(model, text) { return Math.ceil(String(typeof text === 'string' ? text : JSON.stringify(text)).length / 4); },
      }));
      out.lmApi = 'registerLanguageModelChatProvider';
    } else {
      // VS Code 1.100: proposed chatProvider API
      context.subscriptions.push(vscode.lm.registerChatModelProvider('fake-model', {
        async provideLanguageModelResponse(messages, options, extensionId, progress) {
          const s = scripted(messages);
          if (s && s.toolCall) progress.report({ index: 0, part: new vscode.LanguageModelToolCallPart(s.toolCall.callId, s.toolCall.name, s.toolCall.input) });
          else progress.report({ index: 0, part: new vscode.LanguageModelTextPart(s ? s.text : 'FAKE-LM echo: ' + textOf(messages)) });
        },
        async provideTokenCount(text) { return Math.ceil(String(typeof text === 'string' ? text : JSON.stringify(text)).length / 4); },
      }, { vendor: 'e2etest', name: 'Fake Model', family: 'fake', version: '1', maxInputTokens: 100000, maxOutputTokens: 4096, isDefault: true, isUserSelectable: true, capabilities: { toolCalling: true } }));
      out.lmApi = 'registerChatModelProvider';
    }
    out.lmRegistered = true;
  } catch (e) { out.lmError = String(e && e.stack || e); }
  try {
    context.subscriptions.push(vscode.chat.createChatParticipant('e2etest.harness', async (req, ctx, stream) => { stream.markdown('harness got: ' + req.prompt); return {}; }));
    out.participant = true;
  } catch (e) { out.participantError = String(e); }
  // Test hook: tests drop {id, command, args} into $E2E_OUT/harness-requests/<id>.json; the command
  // runs in this extension host (the same one as the extension under test) and the outcome lands in
  // $E2E_OUT/harness-results/<id>.json. Lets tests call commands with arguments, which the palette cannot.
  context.subscriptions.push(vscode.commands.registerCommand('e2eHarness.showInformationMessage', (msg, ...items) => vscode.window.showInformationMessage(String(msg), ...items)));
  const reqDir = path.join(OUT, 'harness-requests');
  const resDir = path.join(OUT, 'harness-results');
  const busy = new Set();
  const poll = setInterval(() => {
    let names = [];
    try { names = fs.readdirSync(reqDir).filter((n) => n.endsWith('.json')); } catch { return; }
    for (const name of names) {
      if (busy.has(name)) continue;
      let req;
      try { req = JSON.parse(fs.readFileSync(path.join(reqDir, name), 'utf8')); } catch { continue; } // still being written
      // an extension host of an earlier page load lingers (code-server keeps it for reconnection): answer only our own requests
      if (req.pid !== undefined && req.pid !== process.pid) continue;
      busy.add(name);
      try { fs.unlinkSync(path.join(reqDir, name)); } catch {}
      const done = (res) => {
        busy.delete(name);
        fs.mkdirSync(resDir, { recursive: true });
        let json;
        try { json = JSON.stringify(res); } catch { json = JSON.stringify({ ok: res.ok, error: res.error, result: String(res.result) }); }
        fs.writeFileSync(path.join(resDir, name + '.tmp'), json);
        fs.renameSync(path.join(resDir, name + '.tmp'), path.join(resDir, name));
      };
      Promise.resolve()
        .then(() => vscode.commands.executeCommand(req.command, ...(req.args || [])))
        .then((result) => done({ ok: true, result: result === undefined ? null : result }),
              (e) => done({ ok: false, error: String(e && e.stack || e) }));
    }
  }, 100);
  context.subscriptions.push({ dispose: () => clearInterval(poll) });
  out.pid = process.pid; // the extension host's pid (tests kill stale hosts with it)
  fs.writeFileSync(OUT + '/harness-activated.json', JSON.stringify(out));
};
exports.deactivate = () => {};
