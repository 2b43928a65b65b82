import type { SessionState } from './session';

/** The words for a session's state, the same in the Sessions view, the Detach picker and the status bar. */
const STATE_TEXT: Record<SessionState, string> = {
  preflight: 'checking…',
  starting: 'starting helper…',
  attaching: 'attaching…',
  ready: 'attached',
  detaching: 'detaching…',
  detached: 'detached',
  failed: 'attach failed',
  targetExited: 'process exited',
  helperCrashed: 'helper crashed',
};

export function sessionStateText(state: SessionState): string {
  return STATE_TEXT[state];
}

/** State plus whether the agent is in the process: "attached · read-only", "attached · agent loaded". */
export function sessionStatusText(session: { state: SessionState; agentLoaded: boolean }): string {
  if (session.state !== 'ready') return sessionStateText(session.state);
  return `${sessionStateText(session.state)} · ${session.agentLoaded ? 'agent loaded' : 'read-only'}`;
}
