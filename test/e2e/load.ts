import { request } from 'node:https';

export interface LoadResult {
  sent: number;
  failed: number;
  failures: string[];
  seconds: number;
  /** When the first and the last failed request ended (ms since the epoch), if any failed. */
  firstFailureAt?: number;
  lastFailureAt?: number;
  /** The body of every answer with status 200, for tests that check what was acknowledged. */
  answers: string[];
}

export interface SiteTarget {
  /** The address to connect to (the VIP). */
  address: string;
  domain: string;
  /** The CA certificate (PEM) the site's certificate must chain to. */
  ca: string;
}

/** One HTTPS GET of the site through `address`, checked as a browser would (SNI, name, chain). */
export function getSite(target: SiteTarget, path = '/', timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.address,
        port: 443,
        path,
        servername: target.domain,
        headers: { Host: target.domain, Accept: 'application/json' },
        ca: target.ca,
        // A new connection for every request: each one goes through the load balancer's choice.
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends requests to the site without pause at `perSecond` (spread over a few concurrent lanes)
 * until `stop()` resolves, counting every request that fails or answers other than 200.
 */
export function startLoad(target: SiteTarget, perSecond: number): { stop: () => Promise<LoadResult> } {
  const result: LoadResult = { sent: 0, failed: 0, failures: [], seconds: 0, answers: [] };
  const started = Date.now();
  let running = true;
  // One lane per request a second: the asked rate holds while a request takes up to a second on a
  // loaded machine, and a request that hangs until its timeout (a connection cut while the VIP
  // moves) costs only its own lane.
  const lanes = Math.max(10, perSecond);
  const interval = (1000 * lanes) / perSecond;
  async function lane(): Promise<void> {
    while (running) {
      const begun = Date.now();
      result.sent += 1;
      try {
        const answer = await getSite(target);
        if (answer.status !== 200) throw new Error(`status ${answer.status}: ${answer.body.trim().slice(0, 200)}`);
        result.answers.push(answer.body);
      } catch (err) {
        result.failed += 1;
        result.lastFailureAt = Date.now();
        result.firstFailureAt ??= result.lastFailureAt;
        if (result.failures.length < 20) result.failures.push(`${new Date().toISOString()} ${err instanceof Error ? err.message : String(err)}`);
      }
      const wait = interval - (Date.now() - begun);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
  const all = Promise.all(Array.from({ length: lanes }, lane));
  return {
    stop: async () => {
      running = false;
      await all;
      result.seconds = (Date.now() - started) / 1000;
      return result;
    },
  };
}
