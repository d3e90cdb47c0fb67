// Command memoryonly is the smallest program that runs jobs on the memory store. It exists so
// that a test can check, with go list -deps, that the root package links no store of its own.
package main

import (
	"context"
	"log"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/backend/memory"
)

func main() {
	s := memory.New()
	defer s.Close()
	if _, err := asyncmq.NewClient(s).Enqueue(context.Background(), "noop", nil); err != nil {
		log.Fatal(err)
	}
}
