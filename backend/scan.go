package backend

import (
	"encoding/json"
	"fmt"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// DecodeAttemptErrors decodes the JSON array of attempt errors a SQL store keeps in one column of
// job id's row, with every time in UTC. A nil column decodes to nil.
func DecodeAttemptErrors(id string, raw []byte) ([]asyncmqtype.AttemptError, error) {
	if raw == nil {
		return nil, nil
	}
	var errs []asyncmqtype.AttemptError
	if err := json.Unmarshal(raw, &errs); err != nil {
		return nil, fmt.Errorf("decode errors of job %q: %w", id, err)
	}
	for i := range errs {
		errs[i].At = errs[i].At.UTC()
	}
	return errs, nil
}
