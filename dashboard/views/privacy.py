"""Privacy: differentially private training (epsilon vs accuracy, per group) and membership-inference attacks."""

import streamlit as st

from dashboard import components as ui
from dashboard.charts import privacy as charts

report = ui.require_report()
ui.header(report, "Privacy", "privacy")
pv = ui.require_section(report, "privacy")
ui.verdict(pv.verdict)
audited = pv.audited
c = st.columns(3)
c[0].metric("Reference networks' training rows" if pv.sweep_note else "Training rows", f"{pv.n_train:,}", help=f"of {pv.n_train_available:,} available; {pv.epochs} epochs, batch {pv.batch_size}")
c[1].metric("delta", f"{pv.delta:g}", help=ui.md(pv.delta_rule))
if audited is not None and audited.membership:
    worst = max(audited.membership, key=lambda a: a.auc.value)
    c[2].metric("Membership attack AUC on the audited model", ui.fmt(worst.auc.value),
                help=f"{ui.md(worst.attack)}: {pv.confidence:.0%} CI [{ui.fmt(worst.auc.low)}, {ui.fmt(worst.auc.high)}]")
elif pv.membership_note:
    c[2].metric("Membership attack on the audited model", "not run", help=ui.md(pv.membership_note))
    st.info(f"Membership inference on the audited model: {ui.md(pv.membership_note)}")
if pv.sweep_note:
    st.info(f"Reference networks: {ui.md(pv.sweep_note)}")
for note in pv.notes:
    st.caption(ui.md(note))

left, right = st.columns(2)
with left:
    ui.chart(charts.epsilon_accuracy_chart(pv))
with right:
    ui.chart(charts.membership_chart(pv))
attacked = [i for i, m in enumerate(pv.models) if m.membership]  # the user's model is not attacked
labels = [charts.model_label(pv.models[i]) for i in attacked]
if labels:
    pick = st.selectbox("Membership-inference ROC of", labels, index=0, key="privacy_roc_model")
    ui.chart(charts.membership_roc_chart(pv, attacked[labels.index(pick)]))
attrs = sorted({g.attribute for m in pv.models for g in m.groups})
if attrs:
    attr = st.segmented_control("Groups of", attrs, default=attrs[0], format_func=ui.md, key="privacy_attr") or attrs[0]
    ui.chart(charts.group_accuracy_chart(pv, attr))

ui.table([{"model": charts.model_label(m), "target epsilon": m.target_epsilon, "epsilon spent": m.epsilon_spent,
           "noise multiplier": m.noise_multiplier, "accuracy": m.accuracy, "ROC AUC": m.roc_auc,
           "attack AUC (max)": max((a.auc.value for a in m.membership or ()), default=None), "train seconds": m.train_seconds}
          for m in pv.models])
ui.whole_json(pv)
