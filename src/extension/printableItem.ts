/**
 * Names, command lines and paths come from the target as bytes
 * (src/core/systemText.ts): a tree item shows them with escapes for bytes
 * that are not UTF-8 and for control characters, never a replacement
 * character or a reordered line.
 */
import * as vscode from 'vscode';
import { printable, printableLines } from '../core/systemText';

/** The item, its label, description, tooltip and screen-reader label made printable. */
export function printableItem(item: vscode.TreeItem): vscode.TreeItem {
	if (typeof item.label === 'string') item.label = printable(item.label);
	if (typeof item.description === 'string') item.description = printable(item.description);
	if (typeof item.tooltip === 'string') item.tooltip = printableLines(item.tooltip);
	else if (item.tooltip instanceof vscode.MarkdownString) item.tooltip.value = printableLines(item.tooltip.value);
	if (item.accessibilityInformation) item.accessibilityInformation = { ...item.accessibilityInformation, label: printable(item.accessibilityInformation.label) };
	return item;
}
