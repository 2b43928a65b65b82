// A stand-in for the few `vscode` APIs processPicker.ts uses, so its QuickPick flow runs under plain
// mocha. Import this module before anything that imports `vscode`: it answers `require('vscode')`
// for the rest of the mocha process (unit tests otherwise never load `vscode`).
import Module from 'node:module';

type Listener<T> = (value: T) => void;

class Emitter<T> {
  private readonly listeners = new Set<Listener<T>>();
  readonly event = (listener: Listener<T>) => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };
  fire(value: T): void {
    [...this.listeners].forEach((l) => l(value));
  }
  get size(): number {
    return this.listeners.size;
  }
}

export interface FakeItem {
  label: string;
  description?: string;
  detail?: string;
  kind?: number;
  alwaysShow?: boolean;
  pid?: number;
}

/** What a test drives: the picker state, plus the user's actions. */
export class FakeQuickPick {
  title?: string;
  placeholder?: string;
  value = '';
  busy = false;
  matchOnDescription = false;
  matchOnDetail = false;
  keepScrollPosition = false;
  buttons: readonly unknown[] = [];
  items: readonly FakeItem[] = [];
  activeItems: readonly FakeItem[] = [];
  selectedItems: readonly FakeItem[] = [];
  visible = false;
  disposed = false;
  /** `busy` as set at each change, to check that listing shows progress. */
  readonly busyHistory: boolean[] = [];
  readonly accept = new Emitter<void>();
  readonly hideEmitter = new Emitter<void>();
  readonly button = new Emitter<unknown>();
  readonly valueEmitter = new Emitter<string>();
  readonly onDidAccept = this.accept.event;
  readonly onDidHide = this.hideEmitter.event;
  readonly onDidTriggerButton = this.button.event;
  readonly onDidChangeValue = this.valueEmitter.event;

  constructor() {
    let busy = false;
    Object.defineProperty(this, 'busy', {
      get: () => busy,
      set: (value: boolean) => {
        busy = value;
        this.busyHistory.push(value);
      },
    });
  }

  show(): void {
    this.visible = true;
  }
  hide(): void {
    if (!this.visible) return;
    this.visible = false;
    this.hideEmitter.fire();
  }
  dispose(): void {
    this.disposed = true;
  }
  /** The user types into the filter box. */
  type(value: string): void {
    this.value = value;
    this.valueEmitter.fire(value);
  }
  /** The user presses Enter on an item. */
  choose(item: FakeItem): void {
    this.selectedItems = [item];
    this.accept.fire();
  }
  listenerCount(): number {
    return this.accept.size + this.hideEmitter.size + this.button.size + this.valueEmitter.size;
  }
}

interface InputBoxOptions {
  value?: string;
  validateInput?: (value: string) => string | undefined;
}

export const fake = {
  quickPicks: [] as FakeQuickPick[],
  /** Answers showInputBox; receives its options. */
  inputBox: (_options: InputBoxOptions): string | undefined => undefined,
};

const format = (message: string, ...args: unknown[]) => message.replace(/\{(\d+)\}/g, (_, i: string) => String(args[Number(i)]));

const vscode = {
  l10n: { t: format },
  ThemeIcon: class {
    constructor(readonly id: string) {}
  },
  QuickPickItemKind: { Separator: -1, Default: 0 },
  window: {
    createQuickPick: () => {
      const quickPick = new FakeQuickPick();
      fake.quickPicks.push(quickPick);
      return quickPick;
    },
    showInputBox: async (options: InputBoxOptions) => fake.inputBox(options),
  },
};

const moduleWithLoad = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
const load = moduleWithLoad._load;
moduleWithLoad._load = function (request: string, ...rest: unknown[]) {
  return request === 'vscode' ? vscode : load.call(this, request, ...rest);
};
