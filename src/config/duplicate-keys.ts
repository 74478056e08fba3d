import { visit, type JSONPath } from 'jsonc-parser';

function objectName(path: JSONPath): string {
  if (path.length === 0) return '(top level)';
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${key}` : key), '');
}

/**
 * JSON.parse keeps the last of two equal keys without a word, so two servers given one name would
 * leave one of them out. Lists every key written twice in one object, with both lines. Call it on
 * text JSON.parse accepted.
 */
export function duplicateKeyProblems(text: string): string[] {
  const problems: string[] = [];
  const open: Array<{ path: JSONPath; lineOf: Map<string, number> }> = [];
  visit(text, {
    onObjectBegin: (_offset, _length, _line, _column, pathSupplier) => {
      open.push({ path: pathSupplier(), lineOf: new Map() });
    },
    onObjectProperty: (name, _offset, _length, line) => {
      const object = open.at(-1);
      if (!object) return;
      const first = object.lineOf.get(name);
      if (first === undefined) object.lineOf.set(name, line + 1);
      else {
        const where = first === line + 1 ? `both on line ${first}` : `lines ${first} and ${line + 1}`;
        problems.push(
          `${objectName(object.path)}: "${name}" is written twice (${where}); ` +
            'JSON would silently keep only the last one: rename or remove one',
        );
      }
    },
    onObjectEnd: () => {
      open.pop();
    },
  });
  return problems;
}
