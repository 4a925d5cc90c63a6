"""The `inv images.*` commands that work registry to registry (`inv images.build`, with Docker engines, is
release/build/):

  promote.py   `inv images.promote`: Models CI images → their -dev-/-release- names; VERSION last
               (over release/promotion.py: the plan, release/promotion_run.py: the stages,
               release/promotion_report.py: the summaries)
  copy.py      `inv images.copy`: images named by hand, or the pairs of a summary
  audit.py     `inv images.audit`: every image the catalogue (or a release record) names exists, with its digest
"""
