package actors

// An item family is one kind of item state (renders, SDK content items,
// ...). The runtime (actor.go, registry*.go, updates.go) knows families only
// through the interface below and the table in families.go. To add one:
//
//   - its events' field in Message (message.go), JSON-tagged;
//   - a state type implementing family, and a section type for its
//     snapshot (versioned: a new field bumps familyKind.version, and
//     restore keeps reading the older bodies);
//   - an entry in families (families.go) with a new index constant, a
//     new tag, and its event codec (appended after the existing sections
//     of a log message) and restore functions: see renderfamily.go;
//   - its public reads, run on the actor goroutine through ask (reads.go).
//
// Components that every family carries (a time series, a uniques sketch)
// are fields of its state type: applyEvents feeds them, section copies them
// and the section body encodes them.

// family is the state one item family (renders, SDK content items, ...)
// keeps for an item: the one interface the runtime (actor.go, registry*.go,
// updates.go) drives. Every method runs on the item's actor goroutine.
type family interface {
	// applyEvents applies the family's events of m in order. out is nil or
	// holds one slot per event of the family in m: true where the event was
	// recorded, false where the family's dedupe rule dropped it. Decisions
	// depend only on the log, so a replay decides the same.
	applyEvents(m *Message, out []bool)
	// section copies the state into its persisted form, which the snapshot
	// round encodes later on its own goroutine: the copy shares nothing
	// that applyEvents changes afterwards.
	section() section
	// update encodes the live update payload: the family's engagement read
	// as of log sequence seq, with "seq" added (see Update).
	update(k ItemID, seq uint64) ([]byte, error)
}

// section is a family's snapshot: a copy of its state, encoded off the actor.
type section interface {
	// appendBinary appends the body of the family's current section
	// version (familyKind.version). Equal states must append equal bytes.
	appendBinary(b []byte) ([]byte, error)
	sizeHint() int // a little over the encoded size
}
