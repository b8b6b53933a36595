"""Every state change of the model registry.

Permission matrix (operators may do everything a team member may)::

    action                                   who
    ---------------------------------------  ------------------------------------------
    browse models, versions, gates           any signed-in user
    create a model                           members of the owning team
    edit a model, create/edit versions,      members of the owning team
      post eval results
    set / delete an unprotected alias,       members of the owning team
      set an unprotected stage
    request a promotion (protected target)   members of the owning team
    approve / reject a promotion             platform leads, never the requester
                                             (and never with a team token: see api.py)
    cancel a promotion                       the requester, or the owning team
    delete a protected alias                 platform leads (with a reason)
    save / delete a promotion policy         maintainers of the owning team

An alias or stage is *protected* when a promotion policy covers it (the model's own,
or its team's default). Protected targets move only through ``request_promotion``.
"""

from __future__ import annotations

from apps.registry.services.aliases import (
    delete_alias as delete_alias,
)
from apps.registry.services.aliases import (
    is_protected as is_protected,
)
from apps.registry.services.aliases import (
    set_alias as set_alias,
)
from apps.registry.services.aliases import (
    set_stage as set_stage,
)
from apps.registry.services.common import (
    can_edit as can_edit,
)
from apps.registry.services.common import (
    can_edit_policy as can_edit_policy,
)
from apps.registry.services.common import (
    catalog_url as catalog_url,
)
from apps.registry.services.common import (
    normalise_tags as normalise_tags,
)
from apps.registry.services.common import (
    validate_alias_name as validate_alias_name,
)
from apps.registry.services.common import (
    validate_catalog_ref as validate_catalog_ref,
)
from apps.registry.services.evals import (
    add_eval_results as add_eval_results,
)
from apps.registry.services.evals import (
    validate_eval_rows as validate_eval_rows,
)
from apps.registry.services.policies import (
    check_metrics_exist as check_metrics_exist,
)
from apps.registry.services.policies import (
    delete_policy as delete_policy,
)
from apps.registry.services.policies import (
    save_policy as save_policy,
)
from apps.registry.services.promotions import (
    approve_promotion as approve_promotion,
)
from apps.registry.services.promotions import (
    cancel_promotion as cancel_promotion,
)
from apps.registry.services.promotions import (
    gate_for as gate_for,
)
from apps.registry.services.promotions import (
    reject_promotion as reject_promotion,
)
from apps.registry.services.promotions import (
    request_promotion as request_promotion,
)
from apps.registry.services.versions import (
    create_model as create_model,
)
from apps.registry.services.versions import (
    create_version as create_version,
)
from apps.registry.services.versions import (
    model_named as model_named,
)
from apps.registry.services.versions import (
    update_model as update_model,
)
from apps.registry.services.versions import (
    update_version as update_version,
)
