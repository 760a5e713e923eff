package actors

// itemWith is an item holding the given families' states.
func itemWith(fs ...family) *itemState {
	s := &itemState{}
	for _, f := range fs {
		switch f.(type) {
		case *renderState:
			s.fams[famRender] = f
		case *contentState:
			s.fams[famContent] = f
		}
	}
	return s
}

// renders and contents return a family's state, nil if the item has none.
func (s *itemState) renders() *renderState   { r, _ := s.fams[famRender].(*renderState); return r }
func (s *itemState) contents() *contentState { c, _ := s.fams[famContent].(*contentState); return c }
