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
 * Sends a request to the site every 1/`perSecond` s until `stop()` resolves, whether or not the
 * earlier ones have been answered (a slow or hanging answer does not lower the rate asked), and
 * counts every request that fails or answers other than 200.
 */
export function startLoad(target: SiteTarget, perSecond: number): { stop: () => Promise<LoadResult> } {
  const result: LoadResult = { sent: 0, failed: 0, failures: [], seconds: 0, answers: [] };
  const started = Date.now();
  const inFlight = new Set<Promise<void>>();
  async function one(): Promise<void> {
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
  }
  // Each tick sends what the schedule owes since the start, so a late timer does not lower the rate.
  const tick = setInterval(
    () => {
      const owed = Math.floor(((Date.now() - started) * perSecond) / 1000) - result.sent;
      for (let i = 0; i < owed; i += 1) {
        const request: Promise<void> = one().finally(() => inFlight.delete(request));
        inFlight.add(request);
      }
    },
    Math.max(1, Math.floor(1000 / perSecond)),
  );
  return {
    stop: async () => {
      clearInterval(tick);
      result.seconds = (Date.now() - started) / 1000;
      await Promise.all([...inFlight]);
      return result;
    },
  };
}
