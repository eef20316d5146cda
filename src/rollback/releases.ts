import { UserError } from '../core/errors.js';
import { quoteWord } from '../core/shell.js';
import { APP_CURRENT, APP_RELEASES, RELEASE_HISTORY, RELEASE_ID } from '../roles/app.js';

/** What an app host has of its releases, as the read script reports it. */
export interface ReleasesReading {
  /** The release `current` points at; undefined when it points at no release directory. */
  current?: string;
  /** Release ids in the order they became current, oldest first. */
  history: string[];
  /** Release directories present, by id. */
  present: string[];
}

/** One host's rollback: `current` goes from one release to another. */
export interface RollbackDecision {
  host: string;
  from: string;
  to: string;
}

/** Reads `current`, the history and the release directories of an app host; it only reads. */
export function readReleasesScript(): string {
  const history = quoteWord(RELEASE_HISTORY);
  return [
    `[[ -L ${quoteWord(APP_CURRENT)} ]] && printf 'current\\t%s\\n' "$(readlink -- ${quoteWord(APP_CURRENT)})"`,
    `[[ -f ${history} ]] && while IFS= read -r __line || [[ -n $__line ]]; do printf 'history\\t%s\\n' "$__line"; done < ${history}`,
    `for __dir in ${quoteWord(APP_RELEASES)}/*/; do [[ -d $__dir ]] && __dir=\${__dir%/} && printf 'release\\t%s\\n' "\${__dir##*/}"; done`,
    'exit 0',
  ].join('\n');
}

/** Lines that are not a release id (a hand edit, a blank line) are left out. */
export function parseReleasesReading(output: string): ReleasesReading {
  const reading: ReleasesReading = { history: [], present: [] };
  for (const line of output.split('\n')) {
    const [tag, value = ''] = line.split('\t');
    if (tag === 'current') {
      const id = value.startsWith(`${APP_RELEASES}/`) ? value.slice(APP_RELEASES.length + 1) : '';
      if (RELEASE_ID.test(id)) reading.current = id;
    } else if (tag === 'history' && RELEASE_ID.test(value)) reading.history.push(value);
    else if (tag === 'release' && RELEASE_ID.test(value)) reading.present.push(value);
  }
  return reading;
}

/**
 * The release to put back: the newest entry of the history that is not the current release. After
 * a rollback the history ends with the release rolled back to, so the next rollback goes forward
 * again. A `current` switched but never recorded (a deploy stopped between the two) goes back to
 * the newest recorded release. Returns the refusal, naming the host and the fix, when there is none.
 */
export function chooseRollback(host: string, reading: ReleasesReading): RollbackDecision | { host: string; refusal: string } {
  const { current } = reading;
  if (current === undefined) {
    return { host, refusal: `${host}: ${APP_CURRENT} points at no release in ${APP_RELEASES}; deploy one with infra provision first` };
  }
  const previous = [...reading.history].reverse().find((id) => id !== current);
  if (previous === undefined) {
    return {
      host,
      refusal:
        `${host}: no release before ${current} in ${RELEASE_HISTORY}, so there is nothing to roll back to; ` +
        'deploy the release you want with infra provision (app.source) instead',
    };
  }
  if (!reading.present.includes(previous)) {
    return {
      host,
      refusal: `${host}: the previous release ${previous} is no longer in ${APP_RELEASES}; deploy it again with infra provision (app.source) instead`,
    };
  }
  return { host, from: current, to: previous };
}

/** Every host's decision, or one UserError listing every host that has nothing to roll back to. */
export function chooseRollbacks(readings: ReadonlyMap<string, ReleasesReading>): RollbackDecision[] {
  const choices = [...readings].map(([host, reading]) => chooseRollback(host, reading));
  const refusals = choices.flatMap((choice) => ('refusal' in choice ? [choice.refusal] : []));
  if (refusals.length > 0) throw new UserError(`cannot roll back; nothing was changed:\n${refusals.map((refusal) => `  ${refusal}`).join('\n')}`);
  return choices.filter((choice): choice is RollbackDecision => !('refusal' in choice));
}
