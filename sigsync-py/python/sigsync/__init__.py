"""sigsync: server-side email signatures for Microsoft 365.

Set up the Exchange Online mail flow that routes a tenant's mail through a signature
service (connectors and a transport rule), test it against a simulated tenant, and render
signatures::

    import sigsync

    with sigsync.Simulator(seeded=True) as sim:
        engine = sigsync.SetupEngine(sim.client())
        setup = sigsync.ConnectorSetup(sim.example_profile(), groups=["sales@contoso.com"])
        print(engine.plan(setup))
        report = engine.configure(setup, progress=print)
        assert report.status is sigsync.SetupStatus.CONFIGURED

Every network or CPU-heavy call releases the GIL; network calls have ``*_async`` twins.
:class:`Relay` runs the SMTP relay (server-side mode) in the process.
Errors derive from :class:`SigsyncError`.
"""

# Each module lists what it exports in its own ``__all__``; the package exports the same names.
# A new public name goes in its module's ``__all__`` (one line); a new module adds its two
# lines below.
from sigsync import _auth, _client, _enums, _errors, _inject, _models, _plan, _relay, _report, _setup, _signature, _sim
from sigsync._auth import *
from sigsync._client import *
from sigsync._enums import *
from sigsync._errors import *
from sigsync._inject import *
from sigsync._models import *
from sigsync._plan import *
from sigsync._relay import *
from sigsync._report import *
from sigsync._setup import *
from sigsync._signature import *
from sigsync._sigsync import __version__
from sigsync._sim import *

__all__ = ["__version__"]
__all__ += _errors.__all__
__all__ += _enums.__all__
__all__ += _auth.__all__
__all__ += _client.__all__
__all__ += _models.__all__
__all__ += _setup.__all__
__all__ += _plan.__all__
__all__ += _report.__all__
__all__ += _sim.__all__
__all__ += _inject.__all__
__all__ += _signature.__all__
__all__ += _relay.__all__
