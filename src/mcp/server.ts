/**
 * `pyflight mcp`: PyFlight's tools for any coding agent that speaks the Model Context Protocol, on
 * stdio, built with the official SDK's `Server`. The tools are the language-model tools' table
 * (lmTools/tools.ts), so VS Code's chat and every MCP client get the same names, schemas, bounds and
 * answers. What a call may do in the target is the server's flags (consent.ts). Progress of long
 * calls is sent when the client asks for it (a progress token); a cancelled call, or a client that
 * goes away, aborts the work in the target: probes are turned off, py-spy stopped, helper requests
 * cancelled, and when the server stops every helper is detached.
 */
import type { Readable, Writable } from 'node:stream';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema, ErrorCode as RpcError, ListToolsRequestSchema, RootsListChangedNotificationSchema,
  type CallToolResult, type ServerNotification, type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { Logger } from '../common/logger';
import { TOOLS, toolNamed, type ToolDeps } from '../lmTools/tools';
import { allows, consentText, refusalText, type McpConsent } from './consent';
import { McpSessions } from './sessions';
import { mcpTools } from './toolList';
import { LineTransport } from './transport';

export interface McpServerOptions {
  consent: McpConsent;
  log: Logger;
  version: string;
  input?: Readable;
  output?: Writable;
  /** One line when the server is up and when it stops (stderr: stdout is the protocol). */
  notice?: (line: string) => void;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** After the client went away, how long calls in flight get to turn off what they started before the helpers are stopped anyway. */
const STOP_GRACE_MS = 10_000;

const INSTRUCTIONS = 'PyFlight diagnoses a running Python process without restarting it. Find the pid with '
  + 'pyflight_processes; pyflight_diagnose finds why a process hangs, is slow, grows in memory, swallows exceptions '
  + 'or fights over the GIL and returns findings with evidence, culprit first. Stacks and CPU profiles are read from '
  + 'outside; tools that load PyFlight\'s agent (watch, trace, mem_diff, getglobal, most diagnoses) answer with the '
  + 'server flag they need when the user did not start the server with it.';

/** Serves until the client closes stdin or the process is told to stop; resolves once everything it started is stopped. */
export async function serveMcp(options: McpServerOptions): Promise<void> {
  const { consent, log } = options;
  const sessions = new McpSessions(log, consent);
  const inFlight = new Set<Promise<unknown>>();
  const ajv = new AjvJsonSchemaValidator();
  const validators = new Map(TOOLS.map((t) => [t.name, ajv.getValidator(t.inputSchema)]));
  const server = new Server({ name: 'pyflight', title: 'PyFlight', version: options.version },
    { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  const roots = clientRoots(server, log);

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: mcpTools() }));
  // Registered with a schema that checks the method only: the SDK's tools/call wrapper then checks the
  // params and answers bad ones with -32602 (invalid params); with the full schema they fail earlier, as -32603.
  server.setRequestHandler(CallToolRequestSchema.pick({ method: true }).passthrough(), (request, extra) => {
    const { params } = CallToolRequestSchema.parse(request);
    const call = callTool(params.name, params.arguments ?? {}, extra);
    inFlight.add(call);
    void call.finally(() => inFlight.delete(call)).catch(() => undefined);
    return call;
  });

  async function callTool(name: string, input: Record<string, unknown>, extra: Extra): Promise<CallToolResult> {
    const def = toolNamed(name);
    if (!def) throw rpcError(RpcError.InvalidParams, `Unknown tool "${name}". The tools are ${TOOLS.map((t) => t.name).join(', ')}.`);
    const checked = validators.get(def.name)!(input);
    // ajv says "data/pid must be number": the argument's name is what the model needs.
    if (!checked.valid) return errorResult(`Invalid arguments for ${def.name}: ${checked.errorMessage.replace(/\bdata\/?/g, '').trim()}. Its input schema is in tools/list.`);
    const access = def.accessFor?.(input) ?? def.access;
    if (access !== 'outside' && !allows(consent, access)) {
      log.info(`tool ${def.name} ${JSON.stringify(input)}: refused (${access})`);
      return errorResult(refusalText(def, input, access));
    }
    const progress = progressSender(extra);
    const deps: ToolDeps = {
      session: (pid, signal) => sessions.get(pid, signal),
      workspaceRoots: await roots(),
      progress: progress.progress,
      agentAllowed: consent.agent,
    };
    try {
      const answer = await def.run(deps, input, extra.signal);
      await progress.sent();
      log.info(`tool ${def.name} ${JSON.stringify(input)}: ${answer.text.length} characters`);
      return { content: [{ type: 'text', text: answer.text }], ...(answer.structured ? { structuredContent: answer.structured } : {}) };
    } catch (error) {
      await progress.sent();
      const failure = PyFlightError.from(error);
      log.warn(`tool ${def.name} ${JSON.stringify(input)}: ${failure.code} ${failure.message}`);
      if (failure.code === ErrorCode.AgentNotAllowed) return errorResult(refusalText(def, input, 'agent', failure.message));
      return errorResult(`PyFlight ${def.name} failed (${failure.code}): ${failure.message}${failure.hint ? `\nNext step: ${failure.hint}` : ''}`);
    }
  }

  const closed = new Promise<void>((resolve) => { server.onclose = resolve; });
  const stop = () => void server.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // The last resort if this process is ended before the helpers are stopped: each turns its probes off and exits.
  const release = () => sessions.releaseNow();
  process.once('exit', release);
  server.onerror = (error) => log.debug(`mcp: ${error.message}`);
  await server.connect(new LineTransport(options.input, options.output));
  options.notice?.(`pyflight mcp ${options.version}: serving ${TOOLS.length} tools on stdio (${consentText(consent)})`);
  try {
    await closed;
    // The SDK aborted every call in flight when the connection closed: let each stop what it started.
    const grace = new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
    await Promise.race([Promise.allSettled([...inFlight]), grace]);
    await sessions.dispose();
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.off('exit', release);
  }
  options.notice?.('pyflight mcp: stopped; every probe is off and every helper detached');
}

/** A JSON-RPC error answer (the SDK answers an error's integer `code` and its message as they are). */
function rpcError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * MCP progress notifications for a call whose client sent a progress token: one per step, each with
 * a larger `progress` (done of total when the step knows it, else a step count), sent in order.
 * `sent` settles once all are written: the answer must follow them (a client drops progress that
 * comes after the answer).
 */
function progressSender(extra: Extra): { progress?: ToolDeps['progress']; sent(): Promise<void> } {
  const token = extra._meta?.progressToken;
  let chain = Promise.resolve();
  if (token === undefined) return { sent: () => chain };
  let last = 0;
  return {
    progress: (message, done, total) => {
      const known = done !== undefined && done > last;
      last = known ? done : last + 1;
      const params = { progressToken: token, progress: last, ...(known && total !== undefined ? { total } : {}), message };
      chain = chain.then(() => extra.sendNotification({ method: 'notifications/progress', params })).catch(() => undefined);
    },
    sent: () => chain,
  };
}

/**
 * The client's roots (its workspace folders), when it offers them: a CPU profile tells the user's
 * own code from libraries by them. Asked once, again after the client says they changed.
 */
function clientRoots(server: Server, log: Logger): () => Promise<string[] | undefined> {
  let asked: Promise<string[] | undefined> | undefined;
  server.setNotificationHandler(RootsListChangedNotificationSchema, async () => { asked = undefined; });
  return () => {
    if (!server.getClientCapabilities()?.roots) return Promise.resolve(undefined);
    asked ??= server.listRoots(undefined, { timeout: 5000 })
      .then(({ roots }) => roots.filter((r) => r.uri.startsWith('file://')).map((r) => decodeURIComponent(new URL(r.uri).pathname)))
      .catch((error: Error) => {
        log.debug(`mcp: roots/list failed: ${error.message}`);
        return undefined;
      });
    return asked;
  };
}
