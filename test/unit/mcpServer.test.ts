import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { TOOLS } from '../../src/lmTools/tools';
import { allows, consentFromFlags, refusalText } from '../../src/mcp/consent';
import { OUTPUT_SCHEMAS } from '../../src/mcp/outputSchemas';
import { mcpTools, toolsMarkdown } from '../../src/mcp/toolList';
import { LineTransport } from '../../src/mcp/transport';

const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('MCP server: tool list, consent, transport', () => {
  it('README lists the tools as the table makes them (`pyflight mcp --list-tools`)', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = /<!-- mcp-tools:start -->\n([\s\S]*?)\n<!-- mcp-tools:end -->/.exec(readme)?.[1];
    assert.ok(section, 'README has no mcp-tools section');
    assert.equal(section, toolsMarkdown(), 'README\'s MCP tool list is stale: paste `node dist/cli.js mcp --list-tools` between its markers');
  });

  it('serves every tool of the table, with its schema; only tools that read from outside are read-only', () => {
    const tools = mcpTools();
    assert.deepEqual(tools.map((t) => t.name), TOOLS.map((t) => t.name));
    for (const t of tools) {
      const def = TOOLS.find((d) => d.name === t.name)!;
      assert.deepEqual(t.inputSchema, def.inputSchema);
      assert.equal(t.annotations?.readOnlyHint, def.access === 'outside', t.name);
    }
    assert.ok(tools.find((t) => t.name === 'pyflight_diagnose')!.outputSchema);
    // No schema for a tool that is not in the table.
    for (const name of Object.keys(OUTPUT_SCHEMAS)) assert.ok(TOOLS.some((t) => t.name === name), name);
  });

  it('consent: read-only by default, --allow-agent for the agent, --allow-code allows both', () => {
    const none = consentFromFlags(new Set());
    assert.deepEqual([allows(none, 'outside'), allows(none, 'agent'), allows(none, 'code')], [true, false, false]);
    const agent = consentFromFlags(new Set(['allow-agent']));
    assert.deepEqual([allows(agent, 'agent'), allows(agent, 'code')], [true, false]);
    const code = consentFromFlags(new Set(['allow-code']));
    assert.deepEqual([allows(code, 'agent'), allows(code, 'code')], [true, true]);
  });

  it('the diagnosis needs the agent by the kind asked for: hang and slow read from outside; auto starts from outside (the engine refuses after routing)', () => {
    const diagnose = TOOLS.find((t) => t.name === 'pyflight_diagnose')!;
    assert.equal(diagnose.accessFor!({ kind: 'hang' }), 'outside');
    assert.equal(diagnose.accessFor!({ kind: 'slow' }), 'outside');
    assert.equal(diagnose.accessFor!({ kind: 'memory' }), 'agent');
    assert.equal(diagnose.accessFor!({ problem: 'RSS keeps growing' }), 'outside');
    assert.equal(diagnose.accessFor!({ problem: 'RSS keeps growing', kind: 'auto' }), 'outside');
    assert.equal(diagnose.accessFor!({ problem: 'it is stuck' }), 'outside');
    assert.equal(diagnose.accessFor!({ problem: 'something is off' }), 'outside');
  });

  it('a refusal says what the call would do and the flag that allows it', () => {
    const watch = TOOLS.find((t) => t.name === 'pyflight_watch')!;
    const text = refusalText(watch, { pid: 7, module: 'shop', method: 'pay', seconds: 99 }, 'agent');
    assert.match(text, /^Not run: pyflight_watch needs PyFlight's agent in the process, and this PyFlight MCP server was started without --allow-agent\./);
    assert.match(text, /^It would: Watch calls of shop pay in process 7 for at most 30 s/m);
    assert.match(text, /"args": \["mcp", "--allow-agent"\]/);
    assert.match(text, /pyflight_stacks/);
  });

  describe('LineTransport', () => {
    function open(): { transport: LineTransport; input: PassThrough; written: () => unknown[]; got: JSONRPCMessage[]; closed: () => boolean } {
      const input = new PassThrough();
      const output = new PassThrough();
      let out = '';
      output.on('data', (d: Buffer) => { out += d.toString(); });
      const transport = new LineTransport(input, output);
      const got: JSONRPCMessage[] = [];
      let closed = false;
      transport.onmessage = (m) => got.push(m);
      transport.onclose = () => { closed = true; };
      void transport.start();
      return { transport, input, got, closed: () => closed, written: () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
    }
    const tick = () => new Promise((r) => setImmediate(r));

    it('delivers messages split anywhere, even inside a multi-byte character', async () => {
      const t = open();
      const line = Buffer.from(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { _meta: { note: 'é€' } } })}\n`);
      const cut = line.indexOf('€', 0, 'utf8') + 1;
      t.input.write(line.subarray(0, cut));
      t.input.write(line.subarray(cut));
      await tick();
      assert.equal(t.got.length, 1);
      assert.deepEqual((t.got[0] as { params: unknown }).params, { _meta: { note: 'é€' } });
      assert.deepEqual(t.written(), []);
    });

    it('answers what is not JSON-RPC with its error, and keeps reading', async () => {
      const t = open();
      t.input.write('{oops\n{"id":5,"foo":1}\n[{"jsonrpc":"2.0","id":6,"method":"ping"}]\n\n{"jsonrpc":"2.0","id":7,"method":"ping"}\n');
      await tick();
      const codes = t.written().map((m) => [(m as { id: unknown }).id, (m as { error: { code: number } }).error.code]);
      assert.deepEqual(codes, [[null, -32700], [5, -32600], [null, -32600]]);
      assert.equal(t.got.length, 1);
    });

    it('closes when stdin ends (the client went away)', async () => {
      const t = open();
      t.input.end();
      await tick();
      assert.equal(t.closed(), true);
    });
  });
});
