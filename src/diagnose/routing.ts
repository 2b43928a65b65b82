/**
 * Which playbook a problem goes to, from the playbook table: the problem's words when exactly one
 * kind's words match (after the more specific kinds win), else the quick evidence's facts against
 * every row's evidence rules, lowest rank first. Pure.
 */
import { PLAYBOOKS, type DiagnoseKind } from './playbooks';
import { routingFacts, type QuickEvidence } from './quickEvidence';

/** The kind the problem's words name, when exactly one does. "latency spikes" and "inference is slow":
 * gil and torch are more specific than slow. */
export function kindFromWords(problem: string, without: readonly DiagnoseKind[] = []): DiagnoseKind | undefined {
  const left = kindsInWords(problem, without);
  return left.length === 1 ? left[0] : undefined;
}

/** Every kind the problem's words name (after the more specific kinds win), in the table's order;
 * `without`: kinds that cannot apply to this process (torch where torch is not loaded). */
export function kindsInWords(problem: string, without: readonly DiagnoseKind[] = []): DiagnoseKind[] {
  const hits = PLAYBOOKS.filter((p) => !without.includes(p.kind) && p.words.test(problem));
  const narrowed = new Set<string>(hits.flatMap((p) => p.narrows ?? []));
  return hits.filter((p) => !narrowed.has(p.kind)).map((p) => p.kind);
}

/** The generic complaints: when the words also name a specific one (memory, exceptions, …), that one is meant. */
const GENERIC: readonly DiagnoseKind[] = ['slow', 'hang'];

/**
 * Words that name several kinds, and evidence that points nowhere (its last rule, "nothing stands
 * out"): the user's words still say more than that — the most specific kind they name. Undefined when
 * the evidence found something or the words name none.
 */
export function wordsOverFallback(problem: string, routed: { kind: DiagnoseKind; fallback: boolean }, without: readonly DiagnoseKind[] = []): DiagnoseKind | undefined {
  if (!routed.fallback) return undefined;
  const named = kindsInWords(problem, without);
  if (!named.length || named.includes(routed.kind)) return undefined;
  return named.find((k) => !GENERIC.includes(k)) ?? named[0];
}

/** The kind the quick evidence points to, and the evidence in words. */
export function routeByEvidence(e: QuickEvidence): { kind: DiagnoseKind; routedBy: string; fallback: boolean } {
  const facts = routingFacts(e);
  const rules = PLAYBOOKS.flatMap((p) => p.evidence.map((rule) => ({ kind: p.kind, rule }))).sort((a, b) => a.rule.rank - b.rule.rank);
  for (const [i, { kind, rule }] of rules.entries()) {
    const why = rule.when(facts);
    // The last rule always answers: nothing in the evidence stood out.
    if (why) return { kind, routedBy: `quick evidence: ${why} (${facts.text.join('; ')})`, fallback: i === rules.length - 1 };
  }
  // The table's last rule always answers; this keeps the type honest.
  throw new Error('no playbook rule matched the quick evidence');
}
