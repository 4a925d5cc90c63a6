"""The `inv images.*` commands that work registry to registry (`inv images.build`, with Docker engines, is
release/build/), and the promotion they are made of:

  promote.py           `inv images.promote`: Models CI images → their -dev-/-release- names; VERSION last
  copy.py              `inv images.copy`: images named by hand, or the pairs of a summary (the promotion's plan
                       steps and executor)
  audit.py             `inv images.audit`: every image the catalogue (or a release record) names exists, with its
                       digest
  promotion.py         pure: the promotion's inputs, targets, plan steps, result checks and the VERSION decision
  promotion_run.py     the stages over the registry: read → plan → copy, every destination at once; then verify
  promotion_report.py  pure: the plan and result tables and the artifacts summaries

This file imports nothing, so importing a pure part loads no I/O.
"""
