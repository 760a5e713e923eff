package actors

// reads.go holds the families' public reads. Each runs on the item's actor
// goroutine through ask, once the state is as new as the log.

import "context"

// renderOf returns st's render state, creating it empty.
func renderOf(st *itemState) *renderState { return st.get(famRender).(*renderState) }

// ReadJSON returns the render summary of item k as the JSON body of
// GET /v1/renders/:id/engagement, encoded by the actor from its cached
// event encodings.
func (r *Registry) ReadJSON(ctx context.Context, k ItemID) ([]byte, error) {
	return ask(ctx, r, k, func(st *itemState, _ ItemID, _ uint64) ([]byte, error) {
		rs, _ := st.fams[famRender].(*renderState)
		if rs == nil { // a read creates no render state
			e := emptyRenderSummary()
			return e.AppendJSON(nil), nil
		}
		return rs.appendJSON(nil, 0, false), nil
	})
}

// ShareCounts returns the own counts of every share of render k that its
// actor tracks, keyed by share id. A share with no recorded event yet is
// absent (its counts are zero).
func (r *Registry) ShareCounts(ctx context.Context, k ItemID) (map[string]ShareCounts, error) {
	return ask(ctx, r, k, func(st *itemState, _ ItemID, _ uint64) (map[string]ShareCounts, error) {
		return renderOf(st).shareCounts(), nil
	})
}

// contentOf returns st's content state, creating it empty.
func contentOf(st *itemState) *contentState { return st.get(famContent).(*contentState) }

// ReadContent returns the SDK event summary of item k as its actor sees it
// now.
func (r *Registry) ReadContent(ctx context.Context, k ItemID) (ContentSummary, error) {
	return ask(ctx, r, k, func(st *itemState, k ItemID, _ uint64) (ContentSummary, error) {
		return contentOf(st).summary(k.Item), nil
	})
}

// Current returns item k's current summary of the given kind (RenderItem or
// ContentItem: a family's name) in the same encoding and with the same Seq
// as its live updates, so a subscriber can start from it and skip updates at
// or below its Seq.
func (r *Registry) Current(ctx context.Context, k ItemID, kind string) (Update, error) {
	fam, err := familyNamed(kind)
	if err != nil {
		return Update{}, err
	}
	return ask(ctx, r, k, func(st *itemState, k ItemID, seq uint64) (Update, error) {
		return encodeUpdate(st, fam, k, seq)
	})
}

// MaxSeenQuery bounds the content ids of one ReadUserSeen.
const MaxSeenQuery = 500

// ReadUserSeen reports, for each content id (given as its ContentHash, which
// the edge computes as it decodes the request), whether user k (UserItemID)
// has seen it (user.go: no false "not seen" for a content within the exact
// window; Bloom false positives past it). An unknown user has seen nothing.
func (r *Registry) ReadUserSeen(ctx context.Context, k ItemID, hashes []uint64) ([]bool, error) {
	return ask(ctx, r, k, func(st *itemState, _ ItemID, _ uint64) ([]bool, error) {
		out := make([]bool, len(hashes))
		us, _ := st.fams[famUser].(*userState)
		if us == nil { // a read creates no user state
			return out, nil
		}
		for i, h := range hashes {
			out[i] = us.seen(h)
		}
		return out, nil
	})
}

// ReadUserHistory returns up to limit of user k's latest events, newest
// first; none for an unknown user.
func (r *Registry) ReadUserHistory(ctx context.Context, k ItemID, limit int) ([]UserHistoryEvent, error) {
	return ask(ctx, r, k, func(st *itemState, _ ItemID, _ uint64) ([]UserHistoryEvent, error) {
		us, _ := st.fams[famUser].(*userState)
		if us == nil {
			return []UserHistoryEvent{}, nil
		}
		return us.latest(limit), nil
	})
}
