/**
 * The schemas of the tools' structured answers (MCP `outputSchema`), by tool name. They live here,
 * not in the tool table, because only MCP has them: the extension's bundle, which carries the table,
 * stays without them. The SDK's client checks every structured answer against its schema (the MCP
 * integration test relies on that).
 */
import { DIAGNOSE_KINDS } from '../diagnose/playbooks';
import { FINDING_BASES, SEVERITY_RANK } from '../diagnose/report';

type Schema = Record<string, unknown>;

/** `DiagnosisReport` (src/diagnose/report.ts). */
const DIAGNOSIS_SCHEMA: Schema = {
  type: 'object',
  properties: {
    pid: { type: 'number' },
    problem: { type: 'string' },
    kind: { type: 'string', enum: DIAGNOSE_KINDS.filter((k) => k !== 'auto') },
    routedBy: { type: 'string', description: 'Why this kind: the problem\'s words, or what the first stack samples showed.' },
    summary: { type: 'string' },
    findings: {
      type: 'array',
      description: 'The culprit first.',
      items: {
        type: 'object',
        properties: {
          title: { type: 'string' },
          severity: { type: 'string', enum: Object.keys(SEVERITY_RANK) },
          about: { type: 'string', enum: [...FINDING_BASES], description: 'What kind of evidence it rests on (hang, slow, torch); the summary is written from the first finding\'s.' },
          location: {
            description: 'Where to look; null when the evidence names no place.',
            anyOf: [{ type: 'null' }, { type: 'object', properties: { function: { type: 'string' }, file: { type: ['string', 'null'] }, line: { type: ['number', 'null'] } },
              required: ['function', 'file', 'line'] }],
          },
          evidence: { type: 'array', items: { type: 'string' }, description: 'What was observed in this run, one fact per line.' },
          next_steps: { type: 'array', items: { type: 'string' } },
        },
        required: ['title', 'severity', 'location', 'evidence', 'next_steps'],
      },
    },
    commands_run: { type: 'array', items: { type: 'string' }, description: 'The equivalent pyflight commands, to repeat by hand.' },
    elapsedMs: { type: 'number' },
  },
  required: ['pid', 'problem', 'kind', 'routedBy', 'summary', 'findings', 'commands_run', 'elapsedMs'],
};

export const OUTPUT_SCHEMAS: Readonly<Record<string, Schema>> = {
  pyflight_diagnose: DIAGNOSIS_SCHEMA,
};
