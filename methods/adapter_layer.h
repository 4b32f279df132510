/* adapter_layer.h: the adapter family shared by seven methods (adapter, pfeiffer,
 * adapterdrop, adapter-lowrank, phm-adapter, compacter, compacter++), reference-spec.md
 * sections 1-3.
 *
 * Design note.
 * - Placement: the sublayer_out hook, after the self-attention and/or FFN sublayer of
 *   encoder and decoder (never cross-attention), before dropout and the residual:
 *   h' = h + Dropout(y + Adapter(y)), Adapter(y) = up(act(down(y))), down d -> d/rf
 *   (integer division, as the reference), act gelu_new (or relu). Options choose the
 *   sublayers (add_after_self_attention, add_after_ffn) and the layers
 *   (task_adapter_layers_encoder/_decoder: "all", "none" or "5,6,7"; layers the model
 *   does not have are ignored, as in the reference).
 *   Paper vs code: the reference code puts Pfeiffer adapters after self-attention only (the
 *   default here); the original Pfeiffer placement (after the FFN) is
 *   --option add_after_self_attention=false --option add_after_ffn=true.
 *   Not implemented: the reference's normalize_phm_weight and factorized_phm_rule (false in
 *   every published config); low_rank_rank > 1 uses w_left @ w_right (the reference's
 *   broadcast product only works for rank 1, where both are the outer product).
 * - Projections, each with a bias (zero init):
 *     dense    y W^T + b, W [out, in] (torch.nn.Linear), N(0, 0.01)
 *     lowrank  y (w_left @ w_right) + b, w_left [in, r], w_right [r, out]: for r = 1 the
 *              outer product of the reference; glorot-uniform (gain sqrt 2) or -normal
 *     phm      y H + b, H [in, out] = sum_i A_i (x) W_i, rule A [n, n, n] (per projection
 *              or one shared by every PHM projection), W [n, in/n, out/n] or factorised
 *              W_i = W_left[i] [in/n, r] @ W_right[i] [r, out/n].
 * - Built weights (lowrank and phm): built ONCE per forward pass in the before_forward hook
 *   with taped ops (phm: K = A^T @ W as [n*n, in/n*out/n] by op_bmm, viewed
 *   [n, n, in/n, out/n] and op_permute_0213'd to [n, in/n, n, out/n] = H), then one GEMM per
 *   application (op_bmm of the rows of y by H).
 * - Cache rule (inference): a forward with x->record == 0 reuses the H built by the
 *   previous non-recording forward, kept in the method's own backend buffer, when no
 *   method parameter changed since: a host snapshot of the method's parameters taken at
 *   build time is compared with their current values (one download of the method's own
 *   parameters, a few hundred KB; this also catches method_weights_load or any direct
 *   write). A recording forward (training) always rebuilds on the tape and invalidates
 *   the cache, since the optimizer step that follows changes the parameters.
 * - Trained: the adapter tensors, the phm rules unless learn_phm=false, and (option
 *   unfreeze_layer_norms, default true) every T5 layer-norm weight; lm_head stays frozen.
 * - Names mirror the T5 site: "encoder.block.3.layer.1.adapter.down.weight" (dense),
 *   ".w_left/.w_right/.bias" (lowrank), ".phm_rule/.W/.W_left/.W_right/.bias" (phm); the
 *   shared rule is "adapters.phm_rule". HF layer index: encoder 0 self, 1 FFN; decoder
 *   0 self, 1 cross, 2 FFN. */
#ifndef COMPACTER_ADAPTER_LAYER_H
#define COMPACTER_ADAPTER_LAYER_H

#include "methods/method.h"

enum adapter_kind { ADAPTER_DENSE = 0, ADAPTER_LOWRANK, ADAPTER_PHM };

/* Options every adapter method has (defaults per method). */
#define ADAPTER_OPTIONS(self_attn, ffn, enc_layers, dec_layers)                                    \
    {"reduction_factor", "32", "bottleneck = d_model / reduction_factor (integer division)"},      \
        {"non_linearity", "gelu_new", "adapter activation: gelu_new or relu"},                     \
        {"add_after_self_attention", self_attn, "adapter after each self-attention sublayer"},     \
        {"add_after_ffn", ffn, "adapter after each feed-forward sublayer"},                        \
        {"task_adapter_layers_encoder", enc_layers,                                                \
         "encoder layers with adapters: all, none or a list 5,6,7"},                               \
        {"task_adapter_layers_decoder", dec_layers,                                                \
         "decoder layers with adapters: all, none or a list 5,6,7"},                               \
    {                                                                                              \
        "unfreeze_layer_norms", "true", "train every T5 layer-norm weight"                         \
    }

#define LOWRANK_OPTIONS                                                                            \
    {"low_rank_rank", "1", "rank r of each projection W = w_left [in, r] @ w_right [r, out]"}, {   \
        "low_rank_w_init", "glorot-uniform",                                                       \
            "w_left, w_right init: glorot-uniform or glorot-normal"                                \
    }

#define PHM_OPTIONS(n, factorized, shared)                                                         \
    {"phm_dim", n, "n: number of Kronecker summands; in and out must be divisible by n"},          \
        {"factorized_phm", factorized,                                                             \
         "W_i = W_left[i] (in/n x phm_rank) @ W_right[i] (phm_rank x out/n)"},                     \
        {"phm_rank", "1", "rank of the factorised W_i"},                                           \
        {"shared_phm_rule", shared, "one rule A (n x n x n) shared by every PHM layer"},           \
        {"phm_c_init", "normal",                                                                   \
         "rule init: normal (per layer N(0,0.01), shared N(0,phm_init_range)) or "                 \
         "uniform (per layer U(-0.01,0.01), shared U(-1,1))"},                                     \
        {"phm_init_range", "0.0001",                                                               \
         "std of the shared rule's normal init and of the 'normal' W init"},                       \
        {"hypercomplex_nonlinearity", "glorot-uniform",                                            \
         "W init: glorot-uniform, glorot-normal or normal"},                                       \
    {                                                                                              \
        "learn_phm", "true", "train the rules"                                                     \
    }

/* init() of an adapter method: declares, allocates and initialises the adapters from the
 * options, lists the trained tensors and sets the hooks. */
int adapter_family_init(struct method_instance *mi, enum adapter_kind kind);
void adapter_family_free(struct method_instance *mi);

/* Built-weight cache counters (for tests): builds into the cache and reuses of it. */
int adapter_cache_stats(const struct method_instance *mi, int *builds, int *hits);

#endif
