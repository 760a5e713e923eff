module github.com/engagedhq/engaged/client

// 1.24: the oldest Go whose encoding/json knows omitzero (Event.Timestamp).
go 1.24

require github.com/google/uuid v1.6.0
