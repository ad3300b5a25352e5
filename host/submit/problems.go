package submit

import (
	"fmt"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/task"
)

// class orders problems: the error's code is that of the first class with a problem.
type class int

const (
	classStructure class = iota
	classUser
	classRoots
	classDuplicates
	classParentRef
	classParentCycle
	classDepRef
	classDepCycle
	classPriority
	classSchedule
	classExecutor
	classInputs
	classExists
	numClasses
)

// codes maps each class to the code of its problems.
var codes = [numClasses]apferr.Code{
	classStructure:   apferr.InvalidParams,
	classUser:        apferr.Unauthorized,
	classRoots:       apferr.TreeValidation,
	classDuplicates:  apferr.InvalidParams,
	classParentRef:   apferr.InvalidParent,
	classParentCycle: apferr.TreeValidation,
	classDepRef:      apferr.InvalidDependency,
	classDepCycle:    apferr.CircularDependency,
	classPriority:    apferr.InvalidParams,
	classSchedule:    apferr.InvalidParams,
	classExecutor:    apferr.ExecutorNotFound,
	classInputs:      apferr.InvalidParams,
	classExists:      apferr.InvalidParams,
}

// collector gathers problems by class, keeping at most max of them.
type collector struct {
	byClass [numClasses][]apferr.Problem
	kept    int
	dropped int
	max     int
}

func newCollector(max int) *collector { return &collector{max: max} }

// add records p under class cl. p.Code is set from the class unless already set.
func (c *collector) add(cl class, p apferr.Problem) {
	if c.kept >= c.max {
		c.dropped++
		return
	}
	if p.Code == 0 {
		p.Code = codes[cl]
	}
	c.byClass[cl] = append(c.byClass[cl], p)
	c.kept++
}

func (c *collector) empty() bool { return c.kept == 0 && c.dropped == 0 }

// err returns nil or the *apferr.Error listing every problem in class order.
func (c *collector) err() error {
	if c.empty() {
		return nil
	}
	all := make([]apferr.Problem, 0, c.kept+1)
	for _, ps := range c.byClass {
		all = append(all, ps...)
	}
	if c.dropped > 0 {
		all = append(all, apferr.Problem{
			Code:   all[0].Code,
			Reason: fmt.Sprintf("%d more problem(s) not listed", c.dropped),
		})
	}
	return apferr.ProblemsOf(all, c.kept+c.dropped)
}

// taskProblem returns a Problem naming the task of spec and field.
func taskProblem(s *Spec, field, reason string) apferr.Problem {
	idx := s.Index
	return apferr.Problem{TaskID: s.ID, TaskName: s.Name, Index: &idx, Field: field, Reason: reason}
}

// idTooLong is the reason given for an id over MaxIDLen; id is the qualified id.
func idTooLong(id string, ns task.Namespace) string {
	if ns == "" {
		return fmt.Sprintf("longer than %d characters", MaxIDLen)
	}
	return fmt.Sprintf("longer than %d characters once qualified with the owner's namespace: %q", MaxIDLen, id)
}
