// Server-Sent Events to any number of watchers without ever waiting for one. Each event is serialized once and
// written to every client; what a client has not yet taken stays in its socket buffer, and a client whose buffer
// grows past the bound is dropped (its browser reconnects and gets the full history again). Writes never await.
import type * as http from 'http';
import { securityHeaders } from './http_util';

/** A comment line this often keeps proxies from closing a quiet stream and finds dead clients. */
const HEARTBEAT_MS = 15_000;
/** How long a browser waits before reconnecting after the stream ends. */
const RETRY_MS = 1500;

export interface SseHubOptions {
  /** Bytes a client may have pending before it is dropped. */
  maxBufferBytes: number;
}

export interface SseStats {
  clients: number;
  /** Clients dropped because they fell behind. */
  dropped: number;
  /** Clients that have connected so far. */
  connected: number;
}

/** One `event:`/`data:` frame; data is JSON on one line (JSON.stringify never emits raw newlines). */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class SseHub {
  /** Each client and the most it may hold unread: the bound, plus the history it was sent on connecting. */
  private readonly clients = new Map<http.ServerResponse, number>();
  private readonly heartbeat: NodeJS.Timeout;
  private dropped = 0;
  private connected = 0;
  private closed = false;

  constructor(private readonly options: SseHubOptions) {
    this.heartbeat = setInterval(() => this.send(': ping\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Takes over a request as an event stream; `initial` (frames) is written first, and not counted against the bound. */
  add(req: http.IncomingMessage, res: http.ServerResponse, initial: string): void {
    if (this.closed) { res.writeHead(503).end(); return; }
    res.writeHead(200, {
      ...securityHeaders(),
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    this.clients.set(res, this.options.maxBufferBytes + initial.length);
    this.connected++;
    const forget = () => { this.clients.delete(res); };
    res.on('close', forget);
    res.on('error', forget);
    res.write(`retry: ${RETRY_MS}\n\n${initial}`);
  }

  broadcast(event: string, data: unknown): void {
    if (this.clients.size > 0) this.send(sseFrame(event, data));
  }

  /** Writes to every client; a client already holding more than the bound is dropped instead. */
  private send(frame: string): void {
    for (const [res, limit] of this.clients) {
      if (res.writableLength + frame.length > limit) {
        this.clients.delete(res);
        this.dropped++;
        res.destroy();
        continue;
      }
      res.write(frame);
    }
  }

  stats(): SseStats {
    return { clients: this.clients.size, dropped: this.dropped, connected: this.connected };
  }

  /** Sends a last frame (if any) and ends every stream; resolves when they are flushed (or after `waitMs`). */
  close(lastFrame = '', waitMs = 500): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    clearInterval(this.heartbeat);
    const ended = [...this.clients.keys()].map((res) => new Promise<void>((resolve) => {
      res.once('close', resolve);
      res.end(lastFrame, resolve);
    }));
    this.clients.clear();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      timer.unref();
      void Promise.all(ended).then(() => { clearTimeout(timer); resolve(); });
    });
  }
}
