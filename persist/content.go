package persist

import (
	"context"
	"crypto/rand"
	"strings"

	"github.com/engagedhq/engaged/actors"
)

// CreateContent registers SDK content item id in project projectID; an empty
// id gets a generated one (cnt_ and 26 random characters). Content ids share
// the project's item id space with renders: an id in use is EConflict.
func (s *Store) CreateContent(ctx context.Context, projectID, id string) (actors.Item, error) {
	if id == "" {
		var raw [16]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return actors.Item{}, err
		}
		id = "cnt_" + keyEncoding.EncodeToString(raw[:])
	}
	if !actors.ValidID(id) {
		return actors.Item{}, &actors.Error{Code: actors.EInvalid, Message: "content id must be 1 to 64 characters of letters, digits, '_' and '-'",
			Issues: &actors.Issues{FormErrors: []string{}, FieldErrors: map[string][]string{"id": {"Invalid content id: 1 to 64 characters of letters, digits, '_' and '-'"}}}}
	}
	it, err := s.createItem(ctx, projectID, strings.Clone(id), actors.ContentItem, "")
	if actors.ErrorCode(err) == actors.EConflict {
		return actors.Item{}, actors.Errorf(actors.EConflict, "an item with id %s already exists in this project", id)
	}
	return it, err
}
