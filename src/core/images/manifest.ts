/**
 * The helper's manifest of a checkpoint directory (manifest.pb, written next
 * to CRIU's images), for what the images do not say: the name, and the leak
 * report of the dump.
 */
import { pb } from '../protocol';
import type { ImageSource } from './source';

/**
 * The manifest, or undefined for a directory CRIU wrote without the helper,
 * or one whose manifest does not decode: the images are shown all the same.
 */
export async function readManifest(source: ImageSource): Promise<pb.Checkpoint | undefined> {
	try {
		if (!(await source.list()).includes('manifest.pb')) return undefined;
		return pb.Checkpoint.decode(await source.readFile('manifest.pb'));
	} catch {
		return undefined;
	}
}
