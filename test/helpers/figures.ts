// Figures a fault or property test measured (cases tried, faults injected, tasks wrongly deleted or lost),
// printed as one line per test file so that docs/RELIABILITY.md can quote a real run.

/** Prints `figures <label> {json}` to stdout (vitest shows it beside the file's results). */
export function recordFigures(label: string, figures: Readonly<Record<string, number>>): void {
  process.stdout.write(`figures ${label} ${JSON.stringify(figures)}\n`);
}
