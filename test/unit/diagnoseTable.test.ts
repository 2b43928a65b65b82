import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { USAGE } from '../../src/cli/args';
import { AUTO_CHAT_COMMAND, CHAT_COMMAND_KINDS, chatFollowups, parseDiagnosePrompt } from '../../src/diagnose/chatCommands';
import { DIAGNOSE_KINDS, isDiagnoseKind, PLAYBOOKS } from '../../src/diagnose/playbooks';
import type { RoutingFacts } from '../../src/diagnose/quickEvidence';
import { FINDING_BASES, type FindingBasis } from '../../src/diagnose/report';
import { TOOLS } from '../../src/lmTools/tools';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

// Issue 21: the kinds are spelled once, in the playbook table; everything that lists them is read
// from it or checked against it here.
describe('diagnose: the playbook table is the one list of kinds', () => {
  it('package.json declares the chat commands of the table, with the same descriptions, auto first', () => {
    const declared = pkg.contributes.chatParticipants[0].commands as Array<{ name: string; description: string }>;
    assert.deepEqual(declared.map((c) => [c.name, c.description]),
      [AUTO_CHAT_COMMAND, ...PLAYBOOKS.map((p) => p.chat)].map((c) => [c.command, c.description]));
    assert.deepEqual(Object.keys(CHAT_COMMAND_KINDS), declared.map((c) => c.name));
    for (const p of PLAYBOOKS) assert.equal(CHAT_COMMAND_KINDS[p.chat.command], p.kind);
  });

  it('the diagnose tool: its enum is auto and the table\'s kinds, and both descriptions name every kind', () => {
    const tool = (pkg.contributes.languageModelTools as Array<{ name: string; modelDescription: string; userDescription: string; inputSchema: { properties: { kind: { enum: string[] } } } }>)
      .find((t) => t.name === 'pyflight_diagnose')!;
    assert.deepEqual(tool.inputSchema.properties.kind.enum, ['auto', ...PLAYBOOKS.map((p) => p.kind)]);
    assert.deepEqual((TOOLS.find((t) => t.name === 'pyflight_diagnose')!.inputSchema as typeof tool.inputSchema).properties.kind.enum, [...DIAGNOSE_KINDS]);
    for (const p of PLAYBOOKS) {
      assert.match(tool.modelDescription, new RegExp(`\\b${p.kind}\\b`), `modelDescription lacks ${p.kind}`);
      assert.match(tool.userDescription, new RegExp(`\\b${p.kind}\\b`), `userDescription lacks ${p.kind}`);
    }
  });

  it('the CLI usage lists --kind as auto and the table\'s kinds', () => {
    assert.ok(USAGE.includes(`[--kind ${DIAGNOSE_KINDS.join('|')}]`), USAGE);
  });

  it('each row: a unique kind and chat command, follow-ups to rows of the table, and the prompt\'s kind: word', () => {
    assert.equal(new Set(PLAYBOOKS.map((p) => p.kind)).size, PLAYBOOKS.length);
    assert.equal(new Set(PLAYBOOKS.map((p) => p.chat.command)).size, PLAYBOOKS.length);
    for (const p of PLAYBOOKS) {
      for (const f of p.followups) assert.ok(isDiagnoseKind(f.kind), `${p.kind} follows up with ${f.kind}`);
      for (const k of p.narrows ?? []) assert.ok(isDiagnoseKind(k), `${p.kind} narrows ${k}`);
      assert.equal(parseDiagnosePrompt(`7 it is odd kind:${p.kind}`).kind, p.kind);
      assert.ok(chatFollowups(p.kind, 7).every((f) => f.prompt.startsWith('7 ') && f.command in CHAT_COMMAND_KINDS));
    }
    assert.deepEqual(parseDiagnosePrompt('kind:nonsense it hangs'), { pid: undefined, problem: 'kind:nonsense it hangs', kind: undefined });
  });

  it('follow-ups fit the answer: no GIL question under a blocked event loop, lock waits only when the threads wait', () => {
    for (const p of PLAYBOOKS) for (const f of p.followups) for (const b of f.fits ?? []) assert.ok(FINDING_BASES.includes(b), `${p.kind}: ${b}`);
    const labels = (basis?: FindingBasis) => chatFollowups('slow', 7, basis).map((f) => f.label);
    assert.deepEqual(labels('event-loop'), ['Sample the event loop again']);
    assert.deepEqual(labels('cpu'), ['Who holds the GIL?']);
    assert.deepEqual(labels('wait'), ['Look for lock waits']);
    assert.deepEqual(labels(undefined), []);
    assert.deepEqual(chatFollowups('hang', 7, 'deadlock'), []);
    assert.deepEqual(chatFollowups('hang', 7, 'nothing').map((f) => f.label), ['Profile the CPU instead', 'Count exceptions']);
    // A kind whose follow-ups fit every answer offers them whatever the first finding rests on.
    assert.deepEqual(chatFollowups('memory', 7, 'event-loop').map((f) => f.label), chatFollowups('memory', 7).map((f) => f.label));
  });

  it('routing: evidence ranks are unique, and the last rule answers whatever the facts', () => {
    const rules = PLAYBOOKS.flatMap((p) => p.evidence);
    assert.equal(new Set(rules.map((r) => r.rank)).size, rules.length);
    const last = [...rules].sort((a, b) => b.rank - a.rank)[0];
    const nothing: RoutingFacts = { busy: false, lockWaits: 0, memoryGrew: false, torchLoaded: false, inTorch: false, runnersPerSample: 0, samples: 0, text: [] };
    assert.ok(last.when(nothing));
  });

  it('the diagnose folder has no import circle (type imports included)', () => {
    const dir = path.join(ROOT, 'src', 'diagnose');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''));
    const imports = new Map(files.map((f) => [f, [...readFileSync(path.join(dir, `${f}.ts`), 'utf8').matchAll(/^import[^;]*?from '\.\/([\w]+)';/gms)].map((m) => m[1])]));
    const cycle = (start: string): string[] | undefined => {
      const walk = (at: string, trail: string[]): string[] | undefined => {
        for (const next of imports.get(at) ?? []) {
          if (next === start) return [...trail, next];
          if (!trail.includes(next)) { const found = walk(next, [...trail, next]); if (found) return found; }
        }
        return undefined;
      };
      return walk(start, [start]);
    };
    for (const f of files) assert.equal(cycle(f), undefined, `import circle: ${cycle(f)?.join(' → ')}`);
    // The playbooks import neither the engine nor the table.
    for (const f of ['hang', 'slow', 'memory', 'torch', 'gil', 'exception']) {
      assert.ok(!imports.get(f)!.some((i) => i === 'engine' || i === 'playbooks'), `${f} imports ${imports.get(f)}`);
    }
  });
});
