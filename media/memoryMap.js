// The memory map webview. The extension posts { type: 'show', process } with
// the areas as hex strings; areas close together form a region drawn to
// scale, long unmapped stretches between regions are drawn as a labelled
// break (an x86_64 address space is 128 TiB, almost all of it empty).
// Clicking an area asks the extension to open its memory.
(function () {
	'use strict';
	const vscode = acquireVsCodeApi();
	const COLORS = {
		file: '#4e8ad6', anonymous: '#7a7a7a', heap: '#d6a04e', stack: '#c05050', shared: '#9a63c9',
		'sysv-shm': '#9a63c9', memfd: '#b47fd6', vdso: '#4eb39a', vvar: '#4eb39a', vsyscall: '#4eb39a',
	};
	// Areas closer than this share a region.
	const REGION_GAP = 64n * 1024n * 1024n;

	function size(bytes) {
		const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
		let v = Number(bytes);
		let u = 0;
		while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
		return `${v >= 10 || u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
	}

	function regionsOf(vmas) {
		const regions = [];
		for (const v of vmas) {
			const last = regions[regions.length - 1];
			if (last && v.start - last.end <= REGION_GAP) { last.vmas.push(v); last.end = v.end; }
			else regions.push({ start: v.start, end: v.end, vmas: [v] });
		}
		return regions;
	}

	function el(tag, cls, text) {
		const e = document.createElement(tag);
		if (cls) e.className = cls;
		if (text !== undefined) e.textContent = text;
		return e;
	}

	const tooltip = el('div');
	tooltip.id = 'tooltip';
	document.body.appendChild(tooltip);

	function describe(v) {
		const total = Number((v.end - v.start) / 4096n);
		return [
			`0x${v.start.toString(16)}-0x${v.end.toString(16)}  ${v.prot}  ${v.kind}`,
			`${size(v.end - v.start)}, ${v.pages} of ${total} pages in the checkpoint (${total ? Math.round((100 * v.pages) / total) : 0}%)`,
			v.file ? v.file : '',
			'Click to open its memory',
		].filter(Boolean).join('\n');
	}

	function drawRegion(root, region) {
		const wrap = el('div', 'region');
		wrap.appendChild(el('div', 'region-label', `0x${region.start.toString(16)} - 0x${region.end.toString(16)}  (${size(region.end - region.start)})`));
		const bar = el('div', 'bar');
		const span = Number(region.end - region.start);
		let at = region.start;
		for (const v of region.vmas) {
			if (v.start > at) {
				// Set through the CSSOM: the page's CSP refuses style attributes.
				const hole = el('div');
				hole.style.flex = `${Number(v.start - at) / span} 0 0`;
				bar.appendChild(hole);
			}
			const block = el('div', 'vma');
			block.style.flex = `${Number(v.end - v.start) / span} 0 0`;
			block.style.background = COLORS[v.kind] || '#7a7a7a';
			block.tabIndex = 0;
			block.setAttribute('role', 'button');
			block.setAttribute('aria-label', `${v.kind} 0x${v.start.toString(16)}-0x${v.end.toString(16)} ${v.prot}${v.file ? ' ' + v.file : ''}`);
			const dumped = el('div', 'dumped');
			const total = Number((v.end - v.start) / 4096n);
			dumped.style.height = `${total ? Math.round((100 * v.pages) / total) : 0}%`;
			block.appendChild(dumped);
			block.addEventListener('mousemove', (e) => {
				tooltip.textContent = describe(v);
				tooltip.style.display = 'block';
				tooltip.style.left = `${Math.min(e.clientX + 12, window.innerWidth - 540)}px`;
				tooltip.style.top = `${e.clientY + 14}px`;
			});
			block.addEventListener('mouseleave', () => { tooltip.style.display = 'none'; });
			const open = () => vscode.postMessage({ type: 'open', start: v.start.toString(16), end: v.end.toString(16) });
			block.addEventListener('click', open);
			block.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') open(); });
			bar.appendChild(block);
			at = v.end;
		}
		wrap.appendChild(bar);
		root.appendChild(wrap);
	}

	function show(p) {
		const vmas = p.vmas.map((v) => ({ ...v, start: BigInt(v.start), end: BigInt(v.end) })).sort((a, b) => (a.start < b.start ? -1 : 1));
		const root = document.getElementById('map');
		root.textContent = '';
		root.appendChild(el('h1', '', `Memory map of ${p.pid} ${p.comm}`));
		const mapped = vmas.reduce((n, v) => n + (v.end - v.start), 0n);
		const pages = vmas.reduce((n, v) => n + v.pages, 0);
		root.appendChild(el('div', 'summary', `${p.checkpoint}: ${vmas.length} areas, ${size(mapped)} mapped, ${size(BigInt(pages) * 4096n)} in the checkpoint`));
		const legend = el('div', 'legend');
		for (const kind of [...new Set(vmas.map((v) => v.kind))]) {
			const item = el('span');
			const swatch = el('i');
			swatch.style.background = COLORS[kind] || '#7a7a7a';
			item.append(swatch, kind);
			legend.appendChild(item);
		}
		root.appendChild(legend);
		const regions = regionsOf(vmas);
		regions.forEach((r, i) => {
			drawRegion(root, r);
			const next = regions[i + 1];
			if (next) root.appendChild(el('div', 'gap', `... ${size(next.start - r.end)} unmapped ...`));
		});
	}

	window.addEventListener('message', (e) => { if (e.data && e.data.type === 'show') show(e.data.process); });
	vscode.postMessage({ type: 'ready' });
})();
