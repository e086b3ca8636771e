// Pure: which set variables of ours the configuration never read (misspelled or for an unselected provider).

/**
 * A variable's or secret file's text as the configuration reads it: surrounding whitespace (the
 * trailing newline a Kubernetes Secret or `echo` leaves) is dropped, the same for both forms.
 */
export function variableText(raw: string): string {
  return raw.trim();
}

/** Prefixes that mark a variable as task-janitor's, and which selection makes it meaningful. */
export interface VariableFamily {
  readonly prefix: string;
  /** False when the family's provider or cloud is not selected: its variables are ignored. */
  readonly selected: boolean;
  /** Says what selecting the family takes, for the "ignored" warning. */
  readonly selectedBy: string;
}

// Kubernetes injects <SERVICE>_SERVICE_HOST, <SERVICE>_PORT_9464_TCP_ADDR and friends for every
// Service in the namespace; a Service named "janitor-…" must not read as a misspelling. A bare
// <SERVICE>_PORT is one only when it holds the link (tcp://10.0.0.5:6379): JANITOR_METRIC_PORT=9464
// is a misspelling.
const SERVICE_LINK = /_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)$/;
const isServiceLink = (name: string, value: string) => SERVICE_LINK.test(name) || (name.endsWith('_PORT') && /^(tcp|udp|sctp):\/\//.test(value));

/**
 * One warning per variable under one of `families` that the configuration did not read: a
 * misspelling gets the nearest known name, a variable of an unselected provider says it is ignored.
 */
export function unknownVariableWarnings(
  env: Readonly<Record<string, string | undefined>>, known: ReadonlySet<string>, families: readonly VariableFamily[],
): string[] {
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (known.has(name) || value === undefined || isServiceLink(name, value)) continue;
    const family = families.find((f) => name.startsWith(f.prefix));
    if (!family) continue;
    if (!family.selected) {
      warnings.push(`${name}: is set but ignored; it applies only when ${family.selectedBy}`);
      continue;
    }
    const nearest = nearestName(name, known);
    warnings.push(`${name}: is not a task-janitor variable and is ignored${nearest ? `; did you mean ${nearest}?` : ''}`);
  }
  return warnings;
}

/** The known name closest to `name` by edit distance, when close enough to be a likely typo. */
export function nearestName(name: string, known: Iterable<string>): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (best === undefined || distance < best.distance) best = { name: candidate, distance };
  }
  // A third of the name may differ: JANITOR_RETENTON, IOTDA_STATE, IOTDA_RATELIMIT all qualify.
  return best && best.distance <= Math.max(2, Math.floor(name.length / 3)) ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
