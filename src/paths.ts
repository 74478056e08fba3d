import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

/** The package root, whether running from dist/src (compiled) or from a checkout. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const viewsDir = resolve(packageRoot, 'views');
export const sourceDir = resolve(packageRoot, 'src');
