/**
 * Which playbook a problem goes to, from the playbook table: the problem's words when exactly one
 * kind's words match (after the more specific kinds win), else the quick evidence's facts against
 * every row's evidence rules, lowest rank first. Pure.
 */
import { PLAYBOOKS, type DiagnoseKind } from './playbooks';
import { routingFacts, type QuickEvidence } from './quickEvidence';

/** The kind the problem's words name, when exactly one does. "latency spikes" and "inference is slow":
 * gil and torch are more specific than slow. */
export function kindFromWords(problem: string): DiagnoseKind | undefined {
  const hits = PLAYBOOKS.filter((p) => p.words.test(problem));
  const narrowed = new Set<string>(hits.flatMap((p) => p.narrows ?? []));
  const left = hits.filter((p) => !narrowed.has(p.kind));
  return left.length === 1 ? left[0].kind : undefined;
}

/** The kind the quick evidence points to, and the evidence in words. */
export function routeByEvidence(e: QuickEvidence): { kind: DiagnoseKind; routedBy: string } {
  const facts = routingFacts(e);
  const rules = PLAYBOOKS.flatMap((p) => p.evidence.map((rule) => ({ kind: p.kind, rule }))).sort((a, b) => a.rule.rank - b.rule.rank);
  for (const { kind, rule } of rules) {
    const why = rule.when(facts);
    if (why) return { kind, routedBy: `quick evidence: ${why} (${facts.text.join('; ')})` };
  }
  // The table's last rule always answers; this keeps the type honest.
  throw new Error('no playbook rule matched the quick evidence');
}
