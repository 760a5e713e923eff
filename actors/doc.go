// Package actors is the domain of engaged and its runtime: the rules and
// state of the item families, and the actors that own that state, with the
// registry that activates them, feeds them the log in order (delivery
// sessions), takes every recorded event through one ingest call (Submit),
// and persists and passivates them in snapshot rounds fenced by partition
// epochs.
//
// It imports no adapter. It declares what it needs from the outside, a
// SnapshotStore (persist implements it), a Log (transport/jetlog) and an
// Outbox (transport/webhooks); cmd/engaged wires them together.
//
// Files, from the runtime down to the families:
//
//	registry.go            the Registry: options, fields, reaching an actor (send, call, ask)
//	registry_ingest.go     Submit, the one ingest path, and its verdicts
//	registry_rounds.go     snapshot rounds, passivation, MaxLive
//	asof.go                per-partition asOf marks of the rounds (top-N's freshness): LogPositions, AsOfStore
//	registry_ownership.go  Deliver and Lost (delivery sessions), partition claims and epochs
//	registry_persist.go    Persist: one item's snapshot on demand (log retention, erasure)
//	actor.go               one item's actor: mailbox loop, activation, apply, panics
//	updates.go             coalesced live updates of an item
//	loader.go              batched snapshot loads of concurrent activations (actors/coalesce)
//	known.go               which items of an owned partition have a snapshot (the others activate without a load)
//	outbox.go              the Outbox port: what applied events cause outside (webhooks), flushed before snapshots
//	verdicts.go            an event's verdict from the actor to the waiting request
//	reads.go               the families' public reads (ReadJSON, ShareCounts, ReadContent, Current)
//	family.go              the family interface the runtime drives, and how to add a family
//	families.go            the table of families; itemState; the log message codec's sections
//	snapshot.go            the snapshot envelope: one versioned section per family; old forms
//	renderfamily.go        renders plugged into the table
//	contentfamily.go       SDK content items plugged into the table
//	userfamily.go          users' states plugged into the table
//	render.go, shares.go, json.go         the render family's rules, share links, summary JSON (and the JSON helpers)
//	content.go, contentdedupe.go, contentrecord.go  the SDK content family's rules and dedupe
//	contentjson.go         the content family's live update JSON, hand-written
//	user.go                the user family's rules: contents seen (exact, then Bloom), latest events
//	familyseries.go        the series and sketches the families embed, the rows a round writes
//	signals.go, rankings.go  content signals; top-N's metrics, windows and answer (summed by persist)
//	codec.go, snapcodec.go  binary primitives, event codecs, the families' snapshot section bodies
//	erasure.go             an erasure's scrub of an item's state; erasure requests
//	message.go, key.go, time.go, error.go, tenancy.go, records.go  shared types
package actors
