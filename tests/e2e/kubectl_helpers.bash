# Helpers shared by the kubectl_*.bats files (loaded after helpers.bash).
# They read kubectl's printed tables and the raw Tables and lists the server
# sends, so that tests can compare printed cells with the objects' values.

TABLE_ACCEPT='application/json;as=Table;v=v1;g=meta.k8s.io,application/json'
DISCOVERY_ACCEPT='application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json'
DISCOVERY_TYPE='application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'

# header: the column titles of the first table in $output, one space
# between words of a title and " | " between titles.
header() {
	printf '%s\n' "$output" | awk 'NR == 1 { gsub(/   +/, " | "); sub(/ +$/, ""); print; exit }'
}

# cells KEY [COLUMN]: the cells of the row of $output whose cell in COLUMN
# (default 1) is KEY, joined by "|". Columns are cut at the offsets of the
# header titles, so empty cells and cells with spaces come out right. A
# blank line starts a new table (kubectl get all). Fails if no row matches.
cells() {
	printf '%s\n' "$output" | awk -v key="$1" -v col="${2:-1}" '
		function trim(s) { sub(/^ +/, "", s); sub(/ +$/, "", s); return s }
		/^$/ { n = 0; next }
		n == 0 {
			pos = 1
			while (match(substr($0, pos), /[^ ]+( [^ ]+)*/)) {
				start[++n] = pos + RSTART - 1
				pos = start[n] + RLENGTH
			}
			next
		}
		{
			line = ""
			for (i = 1; i <= n; i++) {
				c = trim(i < n ? substr($0, start[i], start[i + 1] - start[i]) : substr($0, start[i]))
				cell[i] = c
				line = line (i > 1 ? "|" : "") c
			}
			if (cell[col] == key) { print line; found = 1 }
		}
		END { exit !found }'
}

# table PATH: the raw Table the server returns for PATH.
table() {
	api GET "$1" -H "Accept: $TABLE_ACCEPT"
}

# table_cells JSON NAME: the cells of the row of the Table JSON whose object
# is named NAME, joined by "|".
table_cells() {
	jq -r --arg n "$2" '.rows[] | select(.object.metadata.name == $n) | .cells | map(tostring) | join("|")' <<<"$1"
}

# table_columns JSON: "Name:priority" for each column definition.
table_columns() {
	jq -r '[.columnDefinitions[] | "\(.name):\(.priority)"] | join(" ")' <<<"$1"
}

# api_patch PATH TYPE BODY: PATCH with Content-Type application/TYPE; prints
# the reply body and a last line with the HTTP status (like api_json).
api_patch() {
	api PATCH "$1" -H "Content-Type: application/$2" --data-binary "$3" -w '\n%{http_code}'
}

# set_status PATH JSON: merge-patch the status subresource of PATH.
set_status() {
	local out
	out=$(api_patch "$1/status" merge-patch+json "$2")
	if [ "$(reply_code "$out")" != 200 ]; then
		echo "status patch of $1: $out" >&2
		return 1
	fi
}

# rfc3339_ago SECONDS: the UTC time SECONDS ago (negative: in the future).
rfc3339_ago() {
	date -u -d "@$(($(date +%s) - $1))" +%Y-%m-%dT%H:%M:%SZ
}

# second_passed T: the clock is past second T (for wait_for).
second_passed() {
	[ "$(date -u +%s)" -gt "$1" ]
}

# have_simulator: this build's agent can simulate nodes.
have_simulator() {
	"$C8S_DIR/c8s" agent --help 2>&1 | grep -q -- --simulate
}

# post PATH JSON: create an object through the API (201 expected).
post() {
	local out
	out=$(api_json POST "$1" "$2")
	if [ "$(reply_code "$out")" != 201 ]; then
		echo "POST $1: $out" >&2
		return 1
	fi
}

# watch_table PATH COUNT: like watch_lines, with the Table Accept header
# kubectl get -w sends: the first COUNT events (10 s at most).
watch_table() {
	local path=$1 count=$2
	local out="$C8S_DIR/watch-table.$BASHPID.out"
	api_exec GET "$path" -N -H "Accept: $TABLE_ACCEPT" >"$out" 2>/dev/null 3>&- &
	local pid=$!
	disown "$pid"
	local deadline=$((SECONDS + 10))
	while [ "$(wc -l <"$out")" -lt "$count" ] && pid_alive "$pid"; do
		[ $SECONDS -lt $deadline ] || break
		sleep 0.05
	done
	kill "$pid" 2>/dev/null || true
	wait_pid_gone "$pid" 5 || true
	cat "$out"
	rm -f "$out"
}

# has_created_event NS KIND NAME: the API server's "Created" event for the
# object is stored (it is written in the background after the create).
has_created_event() {
	local evns=$1
	[ -n "$evns" ] || evns=default
	api GET "/api/v1/namespaces/$evns/events?fieldSelector=involvedObject.kind%3D$2,involvedObject.name%3D$3,reason%3DCreated" |
		jq -e '.items | length > 0' >/dev/null
}
