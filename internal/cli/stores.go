package cli

// The command opens whatever store URL it is given, so it links every store asyncmq ships.
import _ "github.com/asyncmq/asyncmq/backend/all"
