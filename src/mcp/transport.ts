/**
 * MCP's stdio transport: one JSON-RPC message per line on stdin and stdout. The SDK's own
 * StdioServerTransport drops a line that is not JSON, or not a JSON-RPC message, without answering
 * (the client then waits for nothing), and does not notice stdin ending; this one answers such a
 * line with the JSON-RPC error it is (-32700 parse error, -32600 invalid request), keeps serving,
 * and closes when the client goes away (stdin ends), which aborts every call in flight.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** A line longer than this is not a request a client of ours sends: it is refused, not buffered without end. */
const MAX_LINE_BYTES = 4 * 1024 * 1024;

export class LineTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private readonly decoder = new StringDecoder('utf8');
  private buffer = '';
  private closed = false;

  constructor(
    private readonly input: Readable = process.stdin,
    private readonly output: Writable = process.stdout,
  ) {}

  async start(): Promise<void> {
    this.input.on('data', this.onData);
    this.input.on('end', this.onEnd);
    this.input.on('error', this.onInputError);
    // A client that closed its end of stdout gets nothing more; stop serving it.
    this.output.on('error', this.onOutputError);
  }

  send(message: JSONRPCMessage): Promise<void> {
    return this.write(message);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('error', this.onInputError);
    this.input.pause();
    this.buffer = '';
    this.onclose?.();
  }

  private write(message: unknown): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.output.write(`${JSON.stringify(message)}\n`)) resolve();
      else this.output.once('drain', resolve);
    });
  }

  private readonly onData = (chunk: Buffer | string): void => {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    for (let end = this.buffer.indexOf('\n'); end >= 0; end = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, end).replace(/\r$/, '');
      this.buffer = this.buffer.slice(end + 1);
      this.receive(line);
    }
    if (Buffer.byteLength(this.buffer) > MAX_LINE_BYTES) {
      this.buffer = '';
      void this.write(errorResponse(null, ErrorCode.InvalidRequest, `Invalid Request: a message longer than ${MAX_LINE_BYTES} bytes was dropped.`));
    }
  };

  private readonly onEnd = (): void => {
    void this.close();
  };

  private readonly onInputError = (error: Error): void => {
    this.onerror?.(error);
    void this.close();
  };

  private readonly onOutputError = (error: Error): void => {
    this.onerror?.(error);
    void this.close();
  };

  private receive(line: string): void {
    if (!line.trim()) return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      void this.write(errorResponse(null, ErrorCode.ParseError, `Parse error: the line is not JSON (${(error as Error).message}).`));
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(json);
    if (!parsed.success) {
      const id = requestId(json);
      const what = Array.isArray(json) ? 'a batch (MCP sends one message per line)' : 'not a JSON-RPC 2.0 request, notification or response';
      // JSON-RPC 2.0: the id when it can be read, else null.
      void this.write(errorResponse(id, ErrorCode.InvalidRequest, `Invalid Request: ${what}.`));
      return;
    }
    this.onmessage?.(parsed.data);
  }
}

function requestId(json: unknown): string | number | null {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return null;
  const id = (json as { id?: unknown }).id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
}

function errorResponse(id: string | number | null, code: number, message: string): unknown {
  return { jsonrpc: '2.0', id, error: { code, message } };
}
