/**
 * OpenSSH's host patterns (ssh_config(5) PATTERNS), for known_hosts and
 * ~/.ssh/config alike: "*" matches any run of characters, "?" exactly one,
 * case does not matter (for user names it does: see MatchCase); in a list, a
 * matching "!pattern" excludes the name whatever else matches.
 */

/**
 * OpenSSH matches host names in any case, user names ("Match user",
 * "Match localuser") in exact case (match_pattern_list's dolower is 0 for them).
 */
export interface MatchCase {
	exactCase?: boolean;
}

/**
 * OpenSSH's wildcards: "*" any run of characters, "?" any one, case not
 * mattering unless exactCase is asked for. Matched greedily, going back only
 * to the last "*" seen: at most pattern length times name length steps,
 * where a regular expression (".*a.*a.*a...b") backtracks exponentially: a
 * known_hosts line like "*a*a*a*a*a*a*a*a*a*a*a*a*b" held a connection for
 * minutes.
 */
export function wildcardMatches(glob: string, name: string, { exactCase = false }: MatchCase = {}): boolean {
	const pattern = exactCase ? glob : glob.toLowerCase();
	const text = exactCase ? name : name.toLowerCase();
	let p = 0;
	let t = 0;
	let star = -1;
	let starText = 0;
	while (t < text.length) {
		if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
			p++;
			t++;
		} else if (p < pattern.length && pattern[p] === '*') {
			star = p++;
			starText = t;
		} else if (star >= 0) {
			// The last "*" takes one more character; the rest of the pattern starts again after it.
			p = star + 1;
			t = ++starText;
		} else {
			return false;
		}
	}
	while (pattern[p] === '*') p++;
	return p === pattern.length;
}

/** Whether a list of patterns takes `name`: one of them matches it and no negated one does. */
export function patternListMatches(patterns: readonly string[], name: string, matchCase: MatchCase = {}): boolean {
	let matched = false;
	for (const p of patterns) {
		const negated = p.startsWith('!');
		if (!wildcardMatches(negated ? p.slice(1) : p, name, matchCase)) continue;
		if (negated) return false;
		matched = true;
	}
	return matched;
}
