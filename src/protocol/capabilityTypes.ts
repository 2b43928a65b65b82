/** The shape of `hello`'s `capabilities` (the helper's row of the target's interpreter); the table and its text are in src/preflight/capabilities.ts. */
export type CapabilityStatus = 'tested' | 'fallback' | 'untested' | 'refused';

export interface FeatureCapability {
  status: CapabilityStatus;
  how?: string;
  reason?: string;
  next?: string;
  overridable?: boolean;
  /** Refused by the table, allowed by PYFLIGHT_ALLOW_UNTESTED_PYTHON=1. */
  overridden?: boolean;
  /** A refusal in the helper's words (what INTERPRETER_UNSUPPORTED says). */
  message?: string;
  title: string;
  agent: boolean;
}

/** `hello`'s `capabilities`: the row of the target's interpreter. */
export interface CapabilityReport {
  family: string;
  label: string;
  tested: boolean;
  testedOn: string[];
  facts: { implementation: string; version: string; minor: [number, number]; freeThreaded: boolean; stripped: boolean | null };
  features: Record<string, FeatureCapability>;
}
