import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema, McpError, type CallToolResult, type Progress } from '@modelcontextprotocol/sdk/types.js';
import type { DiagnosisReport } from '../../src/diagnose/report';
import { assertNoLeftovers, assertTargetHealthy, leftovers, removeHeartbeatDirs, runCli, startBeatingTarget } from '../support/faults';
import { CLI, FIXTURES, ROOT, startTarget, stopAllTargets } from '../support/fixtures';

// Issue 22: `pyflight mcp` driven by the SDK's own client over stdio, against real targets.
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const LONG = { timeout: 150_000 };

interface Served {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
  close: () => Promise<void>;
}

const servers: Served[] = [];

async function serve(...flags: string[]): Promise<Served> {
  // The whole environment: the helper's path and this run's owner mark reach every process it starts.
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', ...flags],
    env: process.env as Record<string, string>, stderr: 'pipe' });
  let stderr = '';
  transport.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const client = new Client({ name: 'pyflight-mcp-test', version: '1.0.0' });
  await client.connect(transport);
  const served = { client, transport, stderr: () => stderr, close: () => client.close() };
  servers.push(served);
  return served;
}

function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

async function call(client: Client, name: string, args: Record<string, unknown>, options: { signal?: AbortSignal; onprogress?: (p: Progress) => void } = {}): Promise<CallToolResult> {
  return await client.callTool({ name, arguments: args }, CallToolResultSchema, { ...LONG, ...options }) as CallToolResult;
}

/** Whether PyFlight's agent (or flight-profiler's) is mapped into the process. */
function agentMapped(pid: number): boolean {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('flight_profiler_agent');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => boolean, tries = 300): Promise<void> {
  for (let i = 0; i < tries && !check(); i++) await sleep(100);
  assert.ok(check(), what);
}

describe('pyflight mcp: the SDK client over stdio, real targets', function () {
  this.timeout(240_000);

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  after(async () => {
    await stopAllTargets();
    removeHeartbeatDirs();
    // The servers are gone, and with them every helper and py-spy they started.
    await assertNoLeftovers();
  });

  it('lists exactly the language-model tools of package.json: names, titles, descriptions, input schemas', async () => {
    const { client } = await serve();
    const { tools } = await client.listTools();
    const declared = pkg.contributes.languageModelTools as Array<{ name: string; displayName: string; modelDescription: string; inputSchema: unknown }>;
    assert.deepEqual(tools.map((t) => t.name), declared.map((t) => t.name));
    for (const d of declared) {
      const tool = tools.find((t) => t.name === d.name)!;
      assert.equal(tool.title, d.displayName, d.name);
      assert.equal(tool.description, d.modelDescription, d.name);
      assert.deepEqual(tool.inputSchema, d.inputSchema, d.name);
    }
    const diagnose = tools.find((t) => t.name === 'pyflight_diagnose')!;
    assert.deepEqual(diagnose.outputSchema?.required, ['pid', 'problem', 'kind', 'routedBy', 'summary', 'findings', 'commands_run', 'elapsedMs']);
    assert.equal(tools.find((t) => t.name === 'pyflight_stacks')!.annotations?.readOnlyHint, true);
    assert.equal(tools.find((t) => t.name === 'pyflight_watch')!.annotations?.readOnlyHint, false);
  });

  it('stacks of a deadlocked process: both threads, what each waits on, read from outside', async () => {
    const target = await startTarget(['deadlock.py']);
    const { client } = await serve();
    const result = await call(client, 'pyflight_stacks', { pid: target.pid });
    assert.equal(result.isError, undefined, text(result));
    const stacks = text(result);
    assert.match(stacks, /^Thread \d+ "transfer" — waiting for AUDIT_LOCK, holds ACCOUNTS_LOCK at \S*deadlock\.py:22\n {4}transfer_to_savings /m);
    assert.match(stacks, /^Thread \d+ "audit" — waiting for ACCOUNTS_LOCK, holds AUDIT_LOCK at \S*deadlock\.py:29\n {4}write_audit_log /m);
    assert.equal(agentMapped(target.pid), false);
  });

  it('diagnosis without --allow-agent: the deadlock is the first finding, as structured content and text, with progress', async () => {
    const target = await startTarget(['deadlock.py']);
    const { client } = await serve();
    await client.listTools(); // the client then checks the structured content against the output schema
    const progress: Progress[] = [];
    const result = await call(client, 'pyflight_diagnose', { pid: target.pid, problem: 'the billing job is stuck' },
      { onprogress: (p) => progress.push(p) });
    assert.equal(result.isError, undefined, text(result));
    const report = result.structuredContent as unknown as DiagnosisReport;
    assert.equal(report.kind, 'hang');
    const first = report.findings[0];
    assert.match(first.title, /^Deadlock: .*transfer_to_savings \(deadlock\.py:22\) waits for AUDIT_LOCK/);
    assert.ok(first.location && ['transfer_to_savings', 'write_audit_log'].includes(first.location.function));
    assert.equal(first.location.file, path.join(FIXTURES, 'deadlock.py'));
    assert.ok(first.evidence.length > 0);
    assert.match(text(result), /^# Diagnosis \(hang\) of process \d+/);
    assert.match(text(result), /## 1\. Deadlock: /);
    assert.ok(progress.some((p) => /Stack sample 5/.test(p.message ?? '')), JSON.stringify(progress));
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress, 'progress increases');
    assert.equal(agentMapped(target.pid), false);
    // A kind that needs the agent is refused with what it would do and the flag.
    const memory = await call(client, 'pyflight_diagnose', { pid: target.pid, problem: 'memory grows', kind: 'memory' });
    assert.equal(memory.isError, true);
    assert.match(text(memory), /^Not run: pyflight_diagnose needs PyFlight's agent .* started without --allow-agent/);
    assert.match(text(memory), /"args": \["mcp", "--allow-agent"\]/);
    // Auto, whose words name memory: the engine refuses once it has routed, before anything is loaded.
    const leak = await call(client, 'pyflight_diagnose', { pid: target.pid, problem: 'RSS keeps growing' });
    assert.equal(leak.isError, true);
    assert.match(text(leak), /^Diagnosing this memory problem \(the problem's words \("RSS keeps growing"\)\) needs PyFlight's agent/m);
    assert.equal(agentMapped(target.pid), false);
  });

  it('auto diagnosis whose evidence routes to a kind that needs the agent: refused after routing, nothing loaded', async () => {
    const target = await startTarget(['torch_service.py'], undefined, 60_000);
    const { client } = await serve();
    const result = await call(client, 'pyflight_diagnose', { pid: target.pid, problem: 'something is off with it' });
    assert.equal(result.isError, true, text(result));
    assert.match(text(result), /^Not run: pyflight_diagnose needs PyFlight's agent/);
    assert.match(text(result), /^Diagnosing this torch problem \(quick evidence: .*torch.*\) needs PyFlight's agent in process \d+/m);
    assert.equal(agentMapped(target.pid), false);
  });

  it('watch: refused without --allow-agent (nothing loaded); with it, the failing calls, and the agent refuses code', async () => {
    const target = await startTarget(['swallowed_errors.py']);
    const args = { pid: target.pid, module: '__main__', method: 'parse_quantity', exceptionOnly: true, limit: 2, seconds: 20 };
    const readOnly = await serve();
    const refused = await call(readOnly.client, 'pyflight_watch', args);
    assert.equal(refused.isError, true);
    assert.match(text(refused), /^Not run: pyflight_watch needs PyFlight's agent in the process, and this PyFlight MCP server was started without --allow-agent\. Nothing was loaded/);
    assert.match(text(refused), /It would: Watch calls of __main__ parse_quantity in process \d+ for at most 20 s/);
    assert.equal(agentMapped(target.pid), false);
    await readOnly.close();

    const allowed = await serve('--allow-agent');
    const progress: Progress[] = [];
    const watched = await call(allowed.client, 'pyflight_watch', args, { onprogress: (p) => progress.push(p) });
    assert.equal(watched.isError, undefined, text(watched));
    const lines = text(watched).split('\n');
    assert.equal(lines.filter((l) => /parse_quantity\(raw='twelve'\)/.test(l)).length, 2, text(watched));
    assert.match(lines.at(-1)!, /limit 2 reached/);
    assert.deepEqual(progress.map((p) => [p.progress, p.total]), [[1, 2], [2, 2]]);
    assert.equal(agentMapped(target.pid), true);
    assert.match(allowed.stderr(), /loading the PyFlightProfiler agent into swallowed_errors\.py \(pid \d+\) with code execution off/);
    // The agent this server loaded refuses code by itself, whoever asks (here the plain CLI).
    const evaluated = await runCli(['eval', String(target.pid), '1 + 1', '--json']);
    assert.equal(evaluated.code, 1, evaluated.stdout + evaluated.stderr);
    assert.match(evaluated.stdout, /CODE_EXECUTION_OFF/);
    // A memory diff through that agent, with the census's progress and the wait between its two censuses.
    const diffProgress: Progress[] = [];
    const diff = await call(allowed.client, 'pyflight_mem_diff', { pid: target.pid, seconds: 1 }, { onprogress: (p) => diffProgress.push(p) });
    assert.equal(diff.isError, undefined, text(diff));
    assert.match(text(diff), /^Process \d+: what changed in 1 s, what your code owns first/);
    assert.ok(diffProgress.some((p) => /^First census: \d+ %/.test(p.message ?? '')), JSON.stringify(diffProgress));
    assert.ok(diffProgress.some((p) => /^First census taken; the second in 1 s\.$/.test(p.message ?? '')), JSON.stringify(diffProgress));
  });

  it('--allow-code: the agent the server loads allows code', async () => {
    const target = await startTarget(['swallowed_errors.py']);
    const { client, stderr } = await serve('--allow-code');
    const watched = await call(client, 'pyflight_watch', { pid: target.pid, module: '__main__', method: 'parse_quantity', exceptionOnly: true, limit: 1 });
    assert.equal(watched.isError, undefined, text(watched));
    assert.doesNotMatch(stderr(), /code execution off/);
    const evaluated = await runCli(['eval', String(target.pid), '6 * 7', '--json']);
    assert.equal(evaluated.code, 0, evaluated.stdout + evaluated.stderr);
    assert.match(evaluated.stdout, /42/);
  });

  it('a CPU profile cancelled mid-way stops py-spy; a cancelled watch and a client that goes away leave no probe', async () => {
    const target = await startBeatingTarget();
    const { client, transport } = await serve('--allow-agent');
    const serverPid = transport.pid!;
    const pySpies = () => leftovers().filter((l) => /py-spy/.test(l));

    // The profile: cancelled once its first second is in.
    const profiling = new AbortController();
    const profile = call(client, 'pyflight_cpu_profile', { pid: target.pid, seconds: 30 },
      { signal: profiling.signal, onprogress: () => profiling.abort() });
    await assert.rejects(profile);
    await waitFor('no py-spy left after the cancel', () => pySpies().length === 0);

    // A watch that never records (beat never raises): cancelled once its probe is in the target.
    const watching = new AbortController();
    const watch = call(client, 'pyflight_watch', { pid: target.pid, module: '__main__', method: 'beat', exceptionOnly: true, seconds: 30 },
      { signal: watching.signal });
    await waitFor('the probe wraps beat', () => target.heartbeat()?.original.beat === false);
    watching.abort();
    await assert.rejects(watch);
    await assertTargetHealthy(target); // beat has its own code again

    // The same watch, and the client goes away: the server turns the probe off, detaches, and exits.
    void call(client, 'pyflight_watch', { pid: target.pid, module: '__main__', method: 'beat', exceptionOnly: true, seconds: 30 }).catch(() => undefined);
    await waitFor('the probe wraps beat again', () => target.heartbeat()?.original.beat === false);
    await client.close();
    await waitFor('the server exited', () => !leftovers().some((l) => l.startsWith(`${serverPid} `)));
    await assertTargetHealthy(target);
    await assertNoLeftovers();
  });

  it('a malformed request gets a JSON-RPC error, and the server keeps serving', async () => {
    const { client, transport } = await serve();
    // Well-formed JSON-RPC, wrong params: -32602 from the SDK's own request validation.
    await assert.rejects(client.request({ method: 'tools/call', params: { name: 42 } } as never, CallToolResultSchema),
      (error: unknown) => error instanceof McpError && error.code === -32602);
    // An unknown tool: -32602 naming the tools.
    await assert.rejects(client.callTool({ name: 'pyflight_nope', arguments: {} }),
      (error: unknown) => error instanceof McpError && error.code === -32602 && /pyflight_stacks/.test(error.message));
    // Arguments that break the tool's input schema: a tool error the model can read.
    const bad = await call(client, 'pyflight_stacks', { pid: 'twelve' });
    assert.equal(bad.isError, true);
    assert.match(text(bad), /^Invalid arguments for pyflight_stacks: .*pid must be number/);
    // A message that is no JSON-RPC at all, through the client's own transport: -32600 with its id.
    const answers: unknown[] = [];
    const onmessage = transport.onmessage!;
    transport.onmessage = (message) => {
      answers.push(message);
      onmessage(message);
    };
    await transport.send({ id: 4242, hello: 'world' } as never);
    await waitFor('an answer to id 4242', () => answers.some((a) => (a as { id?: number }).id === 4242), 100);
    assert.deepEqual((answers.find((a) => (a as { id?: number }).id === 4242) as { error: { code: number } }).error.code, -32600);
    assert.equal((await client.listTools()).tools.length, pkg.contributes.languageModelTools.length);
  });

  it('a line that is not JSON: -32700 with id null, then an initialize is answered (raw stdio)', async () => {
    const child = spawn(process.execPath, [CLI, 'mcp'], { env: process.env, stdio: ['pipe', 'pipe', 'ignore'] });
    const exited = new Promise((r) => child.once('exit', r));
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const lines = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: unknown; error?: { code: number }; result?: { serverInfo?: { name: string } } });
    child.stdin!.write('this is not json\n');
    await waitFor('the parse error', () => lines().length >= 1, 100);
    assert.deepEqual({ id: lines()[0].id, code: lines()[0].error?.code }, { id: null, code: -32700 });
    child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })}\n`);
    await waitFor('the initialize answer', () => lines().length >= 2, 100);
    assert.equal(lines()[1].id, 1);
    assert.equal(lines()[1].result?.serverInfo?.name, 'pyflight');
    // stdin closed: the server stops by itself.
    child.stdin!.end();
    await exited;
    assert.equal(child.exitCode, 0);
  });
});
