/**
 * `@pyflight /diagnose [pid] <problem>` (and `/diagnose-slow|memory|hang|exception|gil|torch`) in
 * the Chat view: runs the deterministic engine (engine.ts) on that process (attaching if needed) or
 * on the current session, streams each step as progress and renders the findings with source
 * anchors and buttons (stacks, flame graph, watch the culprit, inspect a growing class's instances). The report is the answer; when the
 * chat has a language model (and `pyflight.chat.useLanguageModel`), chatRefine.ts then lets it
 * explain the report, citing it, with PyFlight's tools. No model, or a failing one, is never an error.
 */
import * as vscode from 'vscode';
import { CommandId } from '../common/commandIds';
import type { Logger } from '../common/logger';
import { PyFlightError } from '../common/errors';
import type { ProfileStore } from '../profile/profileStore';
import type { Session } from '../session/session';
import type { SessionManager } from '../session/sessionManager';
import { CHAT_COMMAND_KINDS, chatFollowups, parseDiagnosePrompt } from './chatCommands';
import { diagnoseWorkers } from './workers';
import { serverWorkers } from '../processes/processLister';
import { refineWithModel } from './chatRefine';
import { escapeMarkdown } from '../format/markdown';
import { setting } from '../common/config';
import { diagnose } from './engine';
import { playbookFor, type DiagnoseKind } from './playbooks';
import type { DiagnosisExtras } from './playbookTypes';
import { offersWatch, type Finding, type FindingBasis } from './report';

export const CHAT_PARTICIPANT_ID = 'pyflight.chat';

export interface DiagnoseChatDeps {
  log: Logger;
  sessions: SessionManager;
  profiles: ProfileStore;
}

function renderFinding(stream: vscode.ChatResponseStream, f: Finding, index: number): void {
  stream.markdown(`\n\n### ${index + 1}. ${escapeMarkdown(f.title)}\n\n**${f.severity}**`);
  if (f.location?.file) {
    stream.markdown(` — \`${f.location.function}\` at `);
    const line = Math.max(0, (f.location.line ?? 1) - 1);
    stream.anchor(new vscode.Location(vscode.Uri.file(f.location.file), new vscode.Position(line, 0)),
      `${f.location.function} (${f.location.file.split('/').pop()}${f.location.line ? `:${f.location.line}` : ''})`);
  }
  if (f.evidence.length) stream.markdown(`\n\nEvidence:\n${f.evidence.map((e) => `- ${escapeMarkdown(e)}`).join('\n')}`);
  if (f.next_steps.length) stream.markdown(`\n\nNext steps:\n${f.next_steps.map((s) => `- ${escapeMarkdown(s)}`).join('\n')}`);
}

async function handle(deps: DiagnoseChatDeps, request: vscode.ChatRequest, stream: vscode.ChatResponseStream,
  token: vscode.CancellationToken): Promise<vscode.ChatResult> {
  const parsed = parseDiagnosePrompt(request.prompt);
  const { pid, problem } = parsed;
  const kind: DiagnoseKind | undefined = (request.command ? CHAT_COMMAND_KINDS[request.command] : undefined) ?? parsed.kind;
  let session: Session | undefined;
  if (pid !== undefined) {
    stream.progress(`Attaching to process ${pid} (read-only)…`);
    try {
      // A master's pid: its workers, as one group (the master only manages them).
      session = (await serverWorkers(pid)).length ? (await deps.sessions.attachWorkers(pid)).workers[0]
        : await deps.sessions.attach(pid, (m) => stream.progress(escapeMarkdown(m)));
    } catch (error) {
      const failure = PyFlightError.from(error);
      stream.markdown(`Could not attach to process ${pid}: ${escapeMarkdown(failure.message)}${failure.hint ? `\n\n${escapeMarkdown(failure.hint)}` : ''}`);
      return { metadata: { pid, error: failure.code } };
    }
  } else {
    // Several attached: ask, the current one first (one Enter); never the current one silently.
    session = await deps.sessions.resolve({ purpose: 'diagnose', placeHolder: vscode.l10n.t('Diagnose which process?'), attach: false });
    if (!session && deps.sessions.live.length) return { metadata: { pid: undefined } };
  }
  if (!session) {
    stream.markdown('No process is attached. Give its PID — `@pyflight /diagnose 12345 checkout is slow` — or attach first '
      + '(PyFlight: Attach to Process…), then ask again.');
    stream.button({ command: CommandId.attach, title: 'Attach to Process…' });
    return { metadata: { pid: undefined } };
  }
  if (!problem) stream.markdown('_No problem described: the stacks decide whether it hangs or is busy._\n\n');
  const abort = new AbortController();
  const sub = token.onCancellationRequested(() => abort.abort());
  const extras: DiagnosisExtras = {};
  const steps: string[] = [];
  try {
    const folders = vscode.workspace.workspaceFolders?.map((f) => f.uri.fsPath);
    const askedAs = request.command && request.command !== 'diagnose' ? `/${request.command}` : undefined;
    const options = { kind: kind ?? 'auto', askedAs, signal: abort.signal, workspaceRoots: folders, log: deps.log } as const;
    // A worker of an attached group (or a master's pid): every worker, merged (workers.ts).
    const group = deps.sessions.groupOf(session);
    // Progress lines vanish from the chat; kept here so a diagnosis that stops says how far it got.
    const step = (line: string) => {
      steps.push(line);
      stream.progress(escapeMarkdown(line));
    };
    const report = group
      ? await diagnoseWorkers({ pid: group.masterPid, label: group.label }, group.workers, problem, options, step, extras)
      : await diagnose(session, problem, options, step, extras);
    stream.markdown(`**${escapeMarkdown(group?.label ?? session.label)}** — ${report.kind}: ${escapeMarkdown(report.summary)}\n\n_Routed by ${escapeMarkdown(report.routedBy)}._`);
    // The buttons below act on the worker where the culprit was found.
    const culpritWorker = (report.findings[0] as { workers?: number[] } | undefined)?.workers?.[0];
    if (group) session = group.workers.find((w) => w.pid === culpritWorker) ?? session;
    report.findings.forEach((f, i) => renderFinding(stream, f, i));
    const views = new Set(report.findings.map((f) => f.view));
    if (views.has('stacks')) stream.button({ command: CommandId.showStacks, title: 'Show Stacks', arguments: [{ kind: 'session', session }] });
    for (const f of report.findings.filter((x) => x.instances).slice(0, 3)) {
      stream.button({ command: CommandId.showInstances, title: `Inspect ${f.instances!.class} Instances`,
        arguments: [{ pid: session.pid, module: f.instances!.module, class: f.instances!.class }] });
    }
    if (views.has('memory')) stream.button({ command: CommandId.memoryDiff, title: 'Diff Memory Again…', arguments: [{ session }] });
    if (extras.profile && extras.profile.profile.samples) {
      const kept = deps.profiles.add({ owner: { kind: 'session', pid: session.pid, startedAt: session.startedAt }, label: session.label,
        startedAt: Date.now() - extras.profile.elapsedMs, durationMs: extras.profile.elapsedMs, rate: extras.profile.rate, profile: extras.profile.profile });
      stream.button({ command: CommandId.openKeptProfile, title: 'Open Flame Graph', arguments: [kept.id] });
    }
    const culprit = report.findings.find((f) => f.severity !== 'info' && f.location?.file && !f.location.function.includes('<'));
    if (culprit && playbookFor(report.kind).watchCulprit && offersWatch(culprit)) {
      stream.button({ command: CommandId.watchFindingFunction, title: `Watch ${culprit.location!.function}`,
        arguments: [{ file: culprit.location!.file, line: culprit.location!.line ?? 1 }] });
    }
    stream.markdown(`\n\nCommands run:\n${report.commands_run.map((c) => `- \`${c}\``).join('\n')}\n\n_Deterministic: every finding comes from this run's evidence; no language model was used for it._`);
    if (request.model && setting('chat.useLanguageModel')) {
      await refineWithModel(request, report, stream, token, deps.log);
    }
    return { metadata: { pid: session.pid, kind: report.kind, culprit: report.findings[0]?.title, basis: report.findings[0]?.about } };
  } catch (error) {
    const failure = PyFlightError.from(error);
    deps.log.warn(`diagnose ${session.pid}: ${failure.message}`);
    if (steps.length) stream.markdown(`Steps done before it stopped:\n${steps.slice(-12).map((l) => `- ${escapeMarkdown(l)}`).join('\n')}\n\n`);
    stream.markdown(`The diagnosis stopped: ${escapeMarkdown(failure.message)}${failure.hint ? `\n\n${escapeMarkdown(failure.hint)}` : ''}`);
    return { metadata: { pid: session.pid, error: failure.code } };
  } finally {
    sub.dispose();
  }
}

/** What to ask next, by what was diagnosed. */
function followups(result: vscode.ChatResult): vscode.ChatFollowup[] {
  const meta = result.metadata as { pid?: number; kind?: DiagnoseKind; basis?: FindingBasis; error?: string } | undefined;
  if (!meta?.kind || meta.error) return [];
  return chatFollowups(meta.kind, meta.pid, meta.basis);
}

/** Opens the culprit's line and starts the editor's Watch This Function there (its options box, its consent). */
async function watchFindingFunction(where?: { file?: string; line?: number }): Promise<void> {
  if (!where?.file) return;
  const position = new vscode.Position(Math.max(0, (where.line ?? 1) - 1), 0);
  await vscode.window.showTextDocument(vscode.Uri.file(where.file), { selection: new vscode.Range(position, position) });
  await vscode.commands.executeCommand(CommandId.watchThisFunction);
}

export function registerDiagnoseChat(context: vscode.ExtensionContext, deps: DiagnoseChatDeps): void {
  context.subscriptions.push(vscode.commands.registerCommand(CommandId.watchFindingFunction, watchFindingFunction));
  if (typeof vscode.chat?.createChatParticipant !== 'function') return;
  const participant = vscode.chat.createChatParticipant(CHAT_PARTICIPANT_ID, (request, _context, stream, token) => handle(deps, request, stream, token));
  participant.iconPath = new vscode.ThemeIcon('pulse');
  participant.followupProvider = { provideFollowups: (result) => followups(result) };
  context.subscriptions.push(participant);
}
