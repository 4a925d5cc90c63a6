"""`python -m release.demo` (`nox -s demo`): the whole release flow on this machine, without internet.

A rehearsal of a real release, on local stand-ins for every outside system:
1. a fresh workspace (default `.demo/` in the checkout, deleted and made again on every run);
2. a bare git origin made from this checkout's HEAD (branches `dev` and `main`) and a working clone of it with a
   git identity, where the kit runs as a release engineer would run it;
3. a stand-in tt-metal origin (release/sim/tt_metal_origin.py) whose commits the simulated CI images carry, so
   the offline build recipe can resolve them;
4. the Models CI simulator: a GitHub-compatible server on 127.0.0.1 (release/sim/github_server.py) serving a
   generated nightly history (release/sim/history.py) for the real catalogue, and the project's pulls, releases
   and refs over the bare origin (release/sim/github_project.py);
5. a local registry (`docker-registry`, installed with apt-get when missing and running as root) seeded with tiny
   images: every image the simulated CI names and the catalogue's explicit (media, forge) images, except the CI
   images of the tt-metal/vLLM commits the fewest templates will carry (found by running the kit's own ci.read
   and spec.update planning against the simulator first), so those dev and release images must be BUILT while
   the others are promoted;
6. a private dockerd (release/sim/dockerd.py; docker.io installed with apt-get when missing and running as root)
   for those builds; without one, nothing is left to build (what only a build provides is seeded as if built
   earlier) and the demo says why;
then it runs `inv prerelease --increment minor`, merges the pre-release PR into dev with a merge commit through
the simulator (the human step), runs `inv release`, prints where every output is and stops every service.
Until the composite tasks exist in the checkout, it runs the step tasks they are made of (`--steps` forces that).

The parts:
  options.py    DemoOptions and the command line
  console.py    the demo's progress lines
  workspace.py  the workspace, the bare origin and the release engineer's clone
  seeding.py    what goes into the registry (the kit's own CI reading and spec.update planning, run first)
  services.py   every stand-in started, and the environment the kit runs with
  flow.py       the release flow: composites or step tasks, and the maintainer's merge
  report.py     where everything is, at the end
  run.py        `main`: options → workspace → services → flow → report
"""
