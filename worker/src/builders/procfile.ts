/**
 * Procfile parsing: `<type>: <command>` per line, Heroku's format.
 * Process type names are lowercase letters, digits, dashes and underscores.
 */
import { PushError } from "../pipeline/push-error.ts";

export type ProcessTypes = Record<string, string>;

export class ProcfileError extends PushError {}

export function parseProcfile(text: string): ProcessTypes {
  const types: ProcessTypes = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const m = /^([A-Za-z0-9_-]+)\s*:\s*(.*)$/.exec(line);
    if (!m) throw new ProcfileError(`Procfile line ${i + 1} is not "type: command": ${raw}`);
    const [, type, command] = m;
    if (!command.trim()) throw new ProcfileError(`Procfile line ${i + 1}: process type "${type}" has no command`);
    if (types[type.toLowerCase()] !== undefined) {
      throw new ProcfileError(`Procfile line ${i + 1}: process type "${type}" is declared twice`);
    }
    types[type.toLowerCase()] = command.trim();
  });
  return types;
}
