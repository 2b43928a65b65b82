import type { TargetHost } from '../host/targetHost';

/** Polls whether the target still runs; calls `onExit` once it does not. */
export class Liveness {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: number,
    private readonly host: TargetHost,
    private readonly onExit: () => void,
  ) {}

  /** Every `intervalMs` (0: never); the timer does not keep Node alive. */
  start(intervalMs: number): void {
    if (!intervalMs) return;
    this.timer = setInterval(() => {
      void this.host.isAlive(this.pid).then((alive) => {
        if (!alive) this.onExit();
      });
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
