/**
 * JSON of a plan for `multirank layout --json`: the plan's data (functions dropped), indented, with
 * every list of numbers (a group) on one line so that thousands of groups stay readable.
 */

function format(value: unknown, indent: string): string {
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'number')) return `[${value.join(', ')}]`;
    if (value.length === 0) return '[]';
    const inner = indent + '  ';
    return `[\n${value.map((v) => inner + format(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== 'function');
    if (entries.length === 0) return '{}';
    const inner = indent + '  ';
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${format(v, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The plan as indented JSON; `JSON.parse(toJson(plan))` equals `JSON.parse(JSON.stringify(plan))`. */
export function toJson(plan: object): string {
  return `${format(plan, '')}\n`;
}
