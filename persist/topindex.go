package persist

// topindex.go answers top-N per project (docs/RANKINGS.md) from memory.
//
// Summing a window's rows in Postgres for every new question cost 0.2-0.4 s
// at 100k items (a hash aggregate over every item of the project). Here
// each instance keeps, per asked (project, window), a copy of the window's
// rows and each item's sums over them, so a question of any metric, limit
// or minPlays is one pass over the project's items in memory (about a
// millisecond per 100k items). The copy is loaded once, when the window is
// first asked, and then kept current by reading, once a second, only the
// rows written since the last read: every hour and minute row carries the
// xid of the transaction that last wrote it (migration 014), and a read
// takes its snapshot's xmin as the mark for the next one. A transaction that
// is still open during a read has an xid at or above that xmin, so its rows
// are read by a later read, never missed; rows are absolute values, so
// reading one twice changes nothing.
//
// The answers are those the rows give: the same on every instance that has
// read the same rows, and each answer's asOf is the one its rows were read
// with (the oldest partition's time in partition_asof, read in the same
// snapshot).

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"

	"github.com/engagedhq/engaged/actors"
)

// TopIndexPoll is how often a TopIndex reads the rows written since its
// last read: an answer's asOf trails the rounds' by at most about this.
const TopIndexPoll = time.Second

// topIndexIdle is how long a window's copy is kept without a question: a
// dashboard left open keeps its windows, a question asked once is dropped.
const topIndexIdle = 10 * time.Minute

// TopIndex answers top-N questions from in-memory copies of the asked
// windows' series rows. Top loads a window on its first question; Run keeps
// the loaded ones current and drops the idle ones. Safe for concurrent use.
type TopIndex struct {
	s         *Store
	parts     int
	retention time.Duration
	maxBytes  int64
	logger    *slog.Logger

	mu      sync.Mutex // guards windows
	windows map[topKey]*topWindow
	dropped atomic.Int64 // windows dropped to keep within maxBytes
}

// NewTopIndex returns an index over s's rows for a stream of parts
// partitions (asOf needs a time from each). Hour windows are cut at
// now - retention, where PruneSeries deletes rows, so that an answer does
// not depend on whether the sweep has run yet. The index keeps at most
// about maxBytes (ENGAGED_TOP_INDEX_MAX_MB; see trim).
func NewTopIndex(s *Store, parts int, retention time.Duration, maxBytes int64, logger *slog.Logger) *TopIndex {
	return &TopIndex{s: s, parts: parts, retention: retention, maxBytes: maxBytes, logger: logger, windows: map[topKey]*topWindow{}}
}

type topKey struct{ project, window string }

// topWindow is one project's copy of one window's rows. The bounds move
// only forward, with the clock of the questions: a row before from can no
// longer count and is dropped; a row at or past to (an instance's clock
// ahead of this one) is kept and counts once the window reaches it.
type topWindow struct {
	key     topKey
	ready   chan struct{} // closed when the load has ended; err says how
	err     error
	used    atomic.Int64 // wall clock (UnixNano) of the last question
	minutes bool         // series_minutes rows (1h), else series_hours
	failing bool         // the last read failed; owned by Run

	mu       sync.Mutex // guards the fields below
	from, to int64      // Unix seconds: the sums cover rows in [from, to)
	mark     uint64     // rows with an xid at or above it may be unread
	asOf     time.Time
	asOfOK   bool
	index    map[string]int32 // item id → position in items
	items    []topEntry
	rows     int // rows held, over all items
	// sums holds item i's sums over [from, to) at i*topStride: one flat
	// array, so that a question's pass over 100k items reads memory in
	// order instead of following a pointer per item.
	sums []int64
	old  []int64 // scratch for apply
}

// topStride is the sums' room per item: the most counters of a family.
var topStride = max(counters(true), counters(false))

// topEntry is one item's rows in the window, packed (appendTopRow): the
// family's counters only (what ranks), ascending by bucket. Packed, a row
// of a few non-zero counters takes about 10 bytes instead of 160 as a
// struct with a []int64, which is what an item busy in every hour of a
// 30d window (720 rows) makes the difference on. New rows arrive at the
// end or rewrite the last one (the open bucket), which apply does without
// touching the others.
type topEntry struct {
	id      string
	content bool
	rows    int32  // rows in packed
	last    int32  // offset of the last row in packed
	lastAt  int64  // its bucket
	packed  []byte // the rows, each appendTopRow'd after the one before
}

// scratch returns room for n values, reused by apply: a rewrite of the
// open bucket reads the old row into it. Called with w.mu.
func (w *topWindow) scratch(n int) []int64 {
	if cap(w.old) < n {
		w.old = make([]int64, n)
	}
	return w.old[:n]
}

// sumsOf returns item i's sums.
func (w *topWindow) sumsOf(i int) []int64 { return w.sums[i*topStride : (i+1)*topStride] }

// Top answers q at now; items are ordered by value descending, then id
// ascending (bytewise, as Go compares strings).
func (x *TopIndex) Top(ctx context.Context, q actors.TopQuery, now time.Time) (actors.TopList, error) {
	w, err := x.window(ctx, q.Project, q.Window, now)
	if err != nil {
		return actors.TopList{}, err
	}
	w.used.Store(time.Now().UnixNano())
	from, to := x.bounds(q.Window, now)
	items, asOf, ok := w.top(q, from, to)
	l := actors.TopList{Kind: q.Kind, Metric: q.Metric.Name, Window: q.Window, Items: items}
	if ok {
		t := actors.NewTime(asOf)
		l.AsOf = &t
	}
	return l, nil
}

// bounds returns the window's rows to sum at now, in Unix seconds: those of
// actors.TopSpan, hour windows cut where PruneSeries deletes.
func (x *TopIndex) bounds(window string, now time.Time) (from, to int64) {
	f, t, minutes := actors.TopSpan(window, now)
	if cut := now.UTC().Add(-x.retention).Truncate(time.Hour); !minutes && x.retention > 0 && f.Before(cut) {
		f = cut
	}
	return f.Unix(), t.Unix()
}

// window returns the project's loaded copy of window, loading it first if
// no question has asked for it lately. Concurrent first questions share
// one load; a failed load is forgotten, so the next question tries again.
func (x *TopIndex) window(ctx context.Context, project, window string, now time.Time) (*topWindow, error) {
	k := topKey{project, window}
	x.mu.Lock()
	w, ok := x.windows[k]
	if !ok {
		_, _, minutes := actors.TopSpan(window, now)
		w = &topWindow{key: k, ready: make(chan struct{}), minutes: minutes, index: map[string]int32{}}
		w.from, w.to = x.bounds(window, now)
		w.used.Store(time.Now().UnixNano()) // not idle while it loads and answers its first question
		x.windows[k] = w
	}
	x.mu.Unlock()
	if !ok {
		start := time.Now()
		w.err = x.read(ctx, w, true)
		if w.err == nil {
			w.mu.Lock()
			n := len(w.items)
			w.mu.Unlock()
			x.logger.Info("top index: window loaded", "project", project, "window", window, "items", n, "ms", time.Since(start).Milliseconds())
		} else {
			x.mu.Lock()
			if x.windows[k] == w {
				delete(x.windows, k)
			}
			x.mu.Unlock()
		}
		close(w.ready)
		if w.err == nil {
			x.trim() // the new window counts now that it is ready
		}
	}
	select {
	case <-w.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("top of %s: %w", project, actors.Errorf(actors.EUnavailable, "ranking not loaded yet"))
	}
	if w.err != nil {
		return nil, w.err
	}
	return w, nil
}

// Stats returns how many windows the index holds, and their items and rows
// summed, for the operator listener's /stats: about 300 bytes per item with
// one row in its window and about 20-26 per further row for busy items (BenchmarkTopIndexQuery,
// BenchmarkTopIndexBusyItems, docs/RANKINGS.md).
func (x *TopIndex) Stats() map[string]any {
	x.mu.Lock()
	ws := make([]*topWindow, 0, len(x.windows))
	for _, w := range x.windows {
		ws = append(ws, w)
	}
	x.mu.Unlock()
	var items, rows int
	var bytes int64
	for _, w := range ws {
		w.mu.Lock()
		items, rows, bytes = items+len(w.items), rows+w.rows, bytes+w.bytes()
		w.mu.Unlock()
	}
	return map[string]any{"windows": len(ws), "items": items, "rows": rows, "bytes": bytes, "dropped": x.dropped.Load()}
}

// trim drops the least recently asked windows while the index holds more
// than maxBytes. A window larger than the whole budget is dropped too: the
// question that loaded it has its answer, and the next one loads it again
// (slower, never wrong). Called after a load and after each round of reads.
func (x *TopIndex) trim() {
	type sized struct {
		k     topKey
		w     *topWindow
		used  int64
		bytes int64
	}
	x.mu.Lock()
	ws := make([]sized, 0, len(x.windows))
	for k, w := range x.windows {
		select {
		case <-w.ready:
			ws = append(ws, sized{k: k, w: w})
		default: // loading: it has no size yet
		}
	}
	x.mu.Unlock()
	// Sized without x.mu: a question looks its window up meanwhile.
	var total int64
	for i := range ws {
		ws[i].w.mu.Lock()
		ws[i].bytes = ws[i].w.bytes()
		ws[i].w.mu.Unlock()
		ws[i].used = ws[i].w.used.Load()
		total += ws[i].bytes
	}
	slices.SortFunc(ws, func(a, b sized) int { return cmp.Compare(a.used, b.used) })
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, s := range ws {
		if total <= x.maxBytes {
			return
		}
		total -= s.bytes
		if x.windows[s.k] != s.w {
			continue // dropped or loaded again meanwhile
		}
		delete(x.windows, s.k)
		x.dropped.Add(1)
		x.logger.Warn("top index: window dropped to stay within ENGAGED_TOP_INDEX_MAX_MB", "project", s.k.project, "window", s.k.window, "bytes", s.bytes)
	}
}

// bytes estimates the heap w holds: its slices at their capacity, an index
// entry per item (a Go map slot with its share of control bytes and
// growth room), and each item's id and packed rows. BenchmarkTopIndexQuery
// reports it beside the heap measured. Called with w.mu.
func (w *topWindow) bytes() int64 {
	n := int64(cap(w.items))*int64(unsafe.Sizeof(topEntry{})) + int64(cap(w.sums))*8 + int64(len(w.index))*topIndexSlot
	for i := range w.items {
		n += int64(len(w.items[i].id) + cap(w.items[i].packed))
	}
	return n
}

// topIndexSlot is what a map[string]int32 costs per entry beyond the key's
// bytes: a 24-byte slot, its control byte, and the room a map keeps to grow
// (up to twice its entries).
const topIndexSlot = 48

// Run keeps the loaded windows current until ctx ends: every TopIndexPoll
// it reads each one's new rows, and drops those not asked for in
// topIndexIdle. A failed read leaves a window as it was (its asOf says how
// old it is) and is tried again at the next tick.
func (x *TopIndex) Run(ctx context.Context) {
	t := time.NewTicker(TopIndexPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		x.mu.Lock()
		ws := make([]*topWindow, 0, len(x.windows))
		for k, w := range x.windows {
			select {
			case <-w.ready:
			default:
				continue // loading
			}
			if time.Since(time.Unix(0, w.used.Load())) > topIndexIdle {
				delete(x.windows, k)
				continue
			}
			ws = append(ws, w)
		}
		x.mu.Unlock()
		for _, w := range ws {
			// Logged when reads start failing and when they work again,
			// not once a second per window through an outage.
			err := x.read(ctx, w, false)
			switch {
			case err != nil && ctx.Err() == nil && !w.failing:
				x.logger.Warn("top index: reading rows failed; answers keep their asOf until a read works", "project", w.key.project, "window", w.key.window, "err", err)
				w.failing = true
			case err == nil && w.failing:
				x.logger.Info("top index: reading rows works again", "project", w.key.project, "window", w.key.window)
				w.failing = false
			}
		}
		x.trim()
	}
}

// read brings w up to date in one read-only snapshot: its xmin (the next
// mark), asOf, and the rows of w's window written at or after w's mark
// (every row of it when full, the load).
func (x *TopIndex) read(ctx context.Context, w *topWindow, full bool) error {
	w.mu.Lock()
	from, mark := w.from, w.mark
	w.mu.Unlock()
	table, col := "series_hours", "hour"
	if w.minutes {
		table, col = "series_minutes", "minute"
	}
	sql := `SELECT s.item_id, i.kind = 'content', extract(epoch FROM s.` + col + `)::bigint, s.vals
		FROM ` + table + ` s JOIN items i ON i.project_id = s.project_id AND i.id = s.item_id
		WHERE s.project_id = $1 AND s.` + col + ` >= to_timestamp($2)`
	args := []any{w.key.project, from}
	if !full {
		sql += ` AND s.xid >= $3::text::xid8`
		args = append(args, strconv.FormatUint(mark, 10))
	}
	var (
		next   uint64
		asOf   time.Time
		asOfOK bool
		rows   []topRowIn
	)
	err := pgx.BeginTxFunc(ctx, x.s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// The first statement takes the transaction's snapshot: the mark,
		// asOf and the rows are read in the same one.
		if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&next); err != nil {
			return err
		}
		var err error
		if asOf, asOfOK, err = readAsOf(ctx, tx, x.parts); err != nil {
			return err
		}
		rs, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		rows, err = pgx.CollectRows(rs, func(r pgx.CollectableRow) (topRowIn, error) {
			var in topRowIn
			err := r.Scan(&in.id, &in.content, &in.at, &in.vals)
			return in, err
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("top %s of %s: %w", w.key.window, w.key.project, translate(err))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range rows {
		w.apply(r)
	}
	w.mark, w.asOf, w.asOfOK = next, asOf, asOfOK
	return nil
}

// topRowIn is one row as read.
type topRowIn struct {
	id      string
	content bool
	at      int64
	vals    []int64
}

// counters is how many of a family's row values are counters (the rest
// are distinct counts, which do not rank).
func counters(content bool) int {
	if content {
		return len(actors.ContentMetrics) - 2 // users, sessions
	}
	return len(actors.RenderMetrics) - 1 // viewers
}

// appendTopRow appends a row of bucket at, following a row of bucket
// prev (0 for the first): the bucket's distance from prev, a bitmap of the
// non-zero counters, then each of those as a varint.
func appendTopRow(b []byte, prev, at int64, vals []int64) []byte {
	b = binary.AppendUvarint(b, uint64(at-prev))
	var set uint64
	for k, v := range vals {
		if v != 0 {
			set |= 1 << k
		}
	}
	b = binary.AppendUvarint(b, set)
	for _, v := range vals {
		if v != 0 {
			b = binary.AppendVarint(b, v)
		}
	}
	return b
}

// readTopRow reads the row at the start of b, following a row of bucket
// prev, into vals (zeros where the row has none), and returns its bucket
// and its length in bytes. The rows are this file's own: a malformed one
// is a bug, and panics.
func readTopRow(b []byte, prev int64, vals []int64) (at int64, size int) {
	d, n := binary.Uvarint(b)
	if n <= 0 {
		panic("top index: malformed row")
	}
	set, m := binary.Uvarint(b[n:])
	if m <= 0 {
		panic("top index: malformed row")
	}
	size = n + m
	for k := range vals {
		vals[k] = 0
		if set&(1<<k) != 0 {
			v, l := binary.Varint(b[size:])
			if l <= 0 {
				panic("top index: malformed row")
			}
			vals[k], size = v, size+l
		}
	}
	return prev + int64(d), size
}

// topRow is one row unpacked: for edits before the last row, and for
// advance.
type topRow struct {
	at   int64 // Unix seconds of the bucket's start
	vals []int64
}

// unpack returns e's rows.
func (e *topEntry) unpack(n int) []topRow {
	out := make([]topRow, 0, e.rows)
	var at int64
	for b := e.packed; len(b) > 0; {
		vals := make([]int64, n)
		var size int
		at, size = readTopRow(b, at, vals)
		out = append(out, topRow{at: at, vals: vals})
		b = b[size:]
	}
	return out
}

// pack replaces e's rows with rows (ascending).
func (e *topEntry) pack(rows []topRow) {
	e.packed, e.rows = e.packed[:0], int32(len(rows))
	var prev int64
	for _, r := range rows {
		e.last, e.lastAt = int32(len(e.packed)), r.at
		e.packed = appendTopRow(e.packed, prev, r.at, r.vals)
		prev = r.at
	}
	e.packed = slices.Clip(e.packed)
}

// apply replaces the row of r's item and bucket with r. Called with w.mu.
func (w *topWindow) apply(r topRowIn) {
	if r.at < w.from {
		return // it can no longer count
	}
	n := counters(r.content)
	// The counters of the row as read (its slice is this call's): a
	// longer row's tail is distinct counts, a shorter row counts zeros.
	vals := r.vals[:min(n, len(r.vals))]
	if len(vals) < n {
		vals = append(vals, make([]int64, n-len(vals))...)
	}
	i, ok := w.index[r.id]
	if !ok {
		i = int32(len(w.items))
		w.index[r.id] = i
		w.items = append(w.items, topEntry{id: r.id, content: r.content})
		w.sums = append(w.sums, make([]int64, topStride)...)
	}
	e, sums := &w.items[i], w.sumsOf(int(i))
	in := r.at < w.to
	switch {
	case e.rows == 0 || r.at > e.lastAt: // a new last row
		prev := int64(0)
		if e.rows > 0 {
			prev = e.lastAt
		}
		e.last, e.lastAt, e.rows = int32(len(e.packed)), r.at, e.rows+1
		e.packed = appendTopRow(e.packed, prev, r.at, vals)
		w.rows++
	case r.at == e.lastAt: // the last row again (the open bucket)
		old := w.scratch(n)
		d, _ := binary.Uvarint(e.packed[e.last:])
		prev := e.lastAt - int64(d)
		readTopRow(e.packed[e.last:], prev, old)
		if in {
			add(sums, old, -1)
		}
		e.packed = appendTopRow(e.packed[:e.last], prev, r.at, vals)
	default: // an older bucket: unpack, edit, pack
		rows := e.unpack(n)
		j, found := slices.BinarySearchFunc(rows, r.at, func(x topRow, at int64) int { return cmp.Compare(x.at, at) })
		if found {
			if in {
				add(sums, rows[j].vals, -1)
			}
			rows[j].vals = vals
		} else {
			rows = slices.Insert(rows, j, topRow{at: r.at, vals: vals})
			w.rows++
		}
		e.pack(rows)
	}
	if in {
		add(sums, vals, 1)
	}
}

func add(sums, vals []int64, sign int64) {
	for k, v := range vals {
		sums[k] += sign * v
	}
}

// advance moves w's bounds forward to [from, to): rows before from are
// dropped and leave the sums, rows the new to reaches enter them, and items
// left without rows are dropped. Bounds never move back (a question with an
// older clock is answered with the current ones). It decodes only the rows
// that leave or enter, and rebuilds the id index only when items left: it
// runs under w.mu, so questions of the window wait for it (a 1h window of
// 100k items with a row in every minute moves in BenchmarkTopIndexBusyMinutes).
func (w *topWindow) advance(from, to int64) {
	if from <= w.from && to <= w.to {
		return
	}
	oldTo := w.to
	w.from, w.to = max(from, w.from), max(to, w.to)
	kept := w.items[:0]
	vals := make([]int64, topStride)
	for i, e := range w.items {
		n, had := counters(e.content), e.rows
		sums := w.sumsOf(i)
		left := e.dropBefore(w.from, oldTo, vals[:n], sums)
		w.rows -= int(had - e.rows)
		if !left {
			w.rows -= int(e.rows)
			continue
		}
		if e.lastAt >= oldTo { // rows ahead of the old bound: those now inside count
			var at int64
			for r := e.packed; len(r) > 0; {
				var size int
				at, size = readTopRow(r, at, vals[:n])
				if at >= oldTo && at < w.to {
					add(sums, vals[:n], 1)
				}
				r = r[size:]
			}
		}
		if j := len(kept); j < i {
			copy(w.sumsOf(j), sums)
		}
		kept = append(kept, e)
	}
	if len(kept) < len(w.items) { // positions moved: index them again
		clear(w.index)
		for j := range kept {
			w.index[kept[j].id] = int32(j)
		}
	}
	clear(w.items[len(kept):]) // drop the references the compaction left behind
	w.items = kept
	w.sums = w.sums[:len(kept)*topStride]
}

// dropBefore drops e's rows of buckets before from, subtracting from sums
// those before summedTo (the ones the sums hold), and reports whether any
// row is left. The rows after them stay packed as they are; only the first
// one left is written again, with its bucket absolute. vals is scratch room
// for one row.
func (e *topEntry) dropBefore(from, summedTo int64, vals, sums []int64) bool {
	var at int64
	off, dropped := 0, int32(0)
	for off < len(e.packed) {
		a, size := readTopRow(e.packed[off:], at, vals)
		if a >= from {
			break
		}
		if a < summedTo {
			add(sums, vals, -1)
		}
		at, off, dropped = a, off+size, dropped+1
	}
	if dropped == e.rows {
		return false
	}
	if dropped == 0 {
		return true
	}
	first, size := readTopRow(e.packed[off:], at, vals)
	head := appendTopRow(nil, 0, first, vals)
	rest := e.packed[off+size:]
	if e.rows-dropped == 1 {
		e.last = 0
	} else {
		e.last += int32(len(head) - (off + size))
	}
	e.packed = append(head, rest...)
	e.rows -= dropped
	return true
}

// top ranks w's items of q's kind at the bounds [from, to): the q.Limit
// best by actors.RankValue, value descending then id ascending.
func (w *topWindow) top(q actors.TopQuery, from, to int64) ([]actors.TopItem, time.Time, bool) {
	content := q.Kind == "content"
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(from, to)
	h := topHeap{limit: q.Limit}
	for i := range w.items {
		e := &w.items[i]
		if e.content != content {
			continue
		}
		if v, ok := actors.RankValue(&q.Metric, w.sumsOf(i), q.MinPlays); ok {
			h.offer(actors.TopItem{ID: e.id, Value: v})
		}
	}
	return h.sorted(), w.asOf, w.asOfOK
}

// topHeap keeps the limit best items offered: a heap with the worst of
// them at its root, so a worse item is refused in one comparison.
type topHeap struct {
	limit int
	items []actors.TopItem
}

// better orders a ranking: value descending, then id ascending.
func better(a, b actors.TopItem) bool {
	return a.Value > b.Value || (a.Value == b.Value && a.ID < b.ID)
}

func (h *topHeap) offer(it actors.TopItem) {
	if len(h.items) < h.limit {
		h.items = append(h.items, it)
		for i := len(h.items) - 1; i > 0; { // sift up
			p := (i - 1) / 2
			if !better(h.items[p], h.items[i]) {
				break
			}
			h.items[p], h.items[i] = h.items[i], h.items[p]
			i = p
		}
		return
	}
	if h.limit == 0 || !better(it, h.items[0]) {
		return
	}
	h.items[0] = it
	for i := 0; ; { // sift down
		worst, l, r := i, 2*i+1, 2*i+2
		if l < len(h.items) && better(h.items[worst], h.items[l]) {
			worst = l
		}
		if r < len(h.items) && better(h.items[worst], h.items[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h.items[i], h.items[worst] = h.items[worst], h.items[i]
		i = worst
	}
}

func (h *topHeap) sorted() []actors.TopItem {
	out := h.items
	if out == nil {
		out = []actors.TopItem{}
	}
	slices.SortFunc(out, func(a, b actors.TopItem) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	return out
}
