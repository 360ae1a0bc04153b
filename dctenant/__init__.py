"""dctenant: a data-centre tenancy and capacity manager.

The package root only carries the version so that ``dctenant --version`` and the
package metadata agree without importing anything heavy.
"""

__version__ = "0.1.0"
