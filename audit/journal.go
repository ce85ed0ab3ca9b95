package audit

// Stage prepares e for a transaction that its caller owns (a change to the
// key registry committed together with its event, through a store's
// AppendTx) and returns the link function to append it with. The Log
// learns of the event as of any other writer's: the checkpointer reads the
// chain back from the head it did not write.
func (l *Log) Stage(e *Event) (func(Head) ([]Record, error), error) {
	if err := l.prepare(e); err != nil {
		return nil, err
	}
	return func(h Head) ([]Record, error) { return link(h, []*Event{e}), nil }, nil
}
