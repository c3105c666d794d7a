#!/usr/bin/env python3
# CUT reference timing harness -- NOT part of the product (a developer tool only, like reference_bench.py).
#
# A self-contained transcription of CUT's (taesungp/contrastive-unpaired-translation, "Contrastive Learning for
# Unpaired Image-to-Image Translation", Park et al., ECCV 2020) antialiased ResNet generator and PatchGAN
# (Downsample / Upsample blur filters), PatchSampleF, PatchNCELoss and CUTModel's data_dependent_initialize /
# optimize_parameters, so that CUT's own step can be timed side by side with scripts/bench.ts's cut rows (same row
# names, same warm-up/iteration defaults, same thread default, same timed region: set_input + optimize_parameters +
# get_current_losses). The layers CUT shares with the CycleGAN reference (ResnetBlock, norms, init_weights,
# GANLoss) come from reference_bench.py.
#
#   python3 scripts/reference_cut_bench.py [--threads N] [--warmup W] [--iters N] [--only SUBSTR] [--quick|--all] [--json]
#   python3 scripts/reference_cut_bench.py --check
#
# --check verifies this transcription against shared/fixtures/parity/cut: the networks case (bit-exact seed-0
# define_G/define_D, forward, encode_only features, PatchSampleF, PatchNCE) and both training cases (losses per
# step and final weights, with the recorded numpy draws replayed). No timing in --check mode.
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_bench as rb  # noqa: E402  (re-executes with Debian's python3 when torch is missing)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


# ---- networks.py: blur pooling and the antialiased networks --------------------------------------------------

def binomial_filter(n):
    row = np.array([1.])
    for _ in range(n - 1):
        row = np.convolve(row, [1., 1.])
    f = torch.Tensor(row[:, None] * row[None, :])
    return f / torch.sum(f)


class Downsample(nn.Module):
    """Reflect-pad 1, depthwise 3x3 binomial blur, stride 2."""
    def __init__(self, channels):
        super().__init__()
        self.register_buffer('filt', binomial_filter(3)[None, None].repeat((channels, 1, 1, 1)))
        self.pad = nn.ReflectionPad2d([1, 1, 1, 1])

    def forward(self, x):
        return F.conv2d(self.pad(x), self.filt, stride=2, groups=x.shape[1])


class Upsample(nn.Module):
    """Replicate-pad 1, depthwise stride-2 transposed 4x4 binomial filter (x4), cropped to 2H x 2W."""
    def __init__(self, channels):
        super().__init__()
        self.register_buffer('filt', (binomial_filter(4) * 4)[None, None].repeat((channels, 1, 1, 1)))
        self.pad = nn.ReplicationPad2d([1, 1, 1, 1])

    def forward(self, x):
        y = F.conv_transpose2d(self.pad(x), self.filt, stride=2, padding=2, groups=x.shape[1])
        return y[:, :, 1:-1, 1:-1]


class CutResnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf, norm_layer, n_blocks, antialias=True, antialias_up=True):
        super().__init__()
        bias = rb._use_bias(norm_layer)
        m = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, padding=0, bias=bias), norm_layer(ngf), nn.ReLU(True)]
        for i in range(2):
            c = ngf * 2 ** i
            m += [nn.Conv2d(c, 2 * c, 3, stride=1 if antialias else 2, padding=1, bias=bias), norm_layer(2 * c), nn.ReLU(True)]
            if antialias:
                m += [Downsample(2 * c)]
        m += [rb.ResnetBlock(4 * ngf, padding_type='reflect', norm_layer=norm_layer, use_dropout=False, use_bias=bias) for _ in range(n_blocks)]
        for i in range(2):
            c = ngf * 2 ** (2 - i)
            if antialias_up:
                m += [Upsample(c), nn.Conv2d(c, c // 2, 3, stride=1, padding=1, bias=bias)]
            else:
                m += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias)]
            m += [norm_layer(c // 2), nn.ReLU(True)]
        m += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*m)

    def forward(self, x, layers=(), encode_only=False):
        if not layers:
            return self.model(x)
        feats = []
        for i, layer in enumerate(self.model):
            x = layer(x)
            if i in layers:
                feats.append(x)
            if i == layers[-1] and encode_only:
                return feats
        return x, feats


class CutNLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf, n_layers, norm_layer):
        super().__init__()
        bias = rb._use_bias(norm_layer)
        seq = [nn.Conv2d(input_nc, ndf, 4, stride=1, padding=1), nn.LeakyReLU(0.2, True), Downsample(ndf)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=bias), norm_layer(ndf * mult),
                    nn.LeakyReLU(0.2, True), Downsample(ndf * mult)]
        prev, mult = mult, min(2 ** n_layers, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=bias), norm_layer(ndf * mult),
                nn.LeakyReLU(0.2, True), nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


def define_G(opt):
    n_blocks = {'resnet_9blocks': 9, 'resnet_6blocks': 6}[opt.netG]
    net = CutResnetGenerator(3, 3, opt.ngf, rb.get_norm_layer(opt.normG), n_blocks)
    rb.init_weights(net, opt.init_type, opt.init_gain)
    return net.to(opt.device)


def define_D(opt):
    net = CutNLayerDiscriminator(3, opt.ndf, 3, rb.get_norm_layer(opt.normD))
    rb.init_weights(net, opt.init_type, opt.init_gain)
    return net.to(opt.device)


class PatchSampleF(nn.Module):
    """Samples patches of each feature map (numpy's permutation, as CUT) and projects them with a lazily built MLP."""
    def __init__(self, nc, init_type, init_gain, draws):
        super().__init__()
        self.nc, self.init_type, self.init_gain, self.draws, self.built = nc, init_type, init_gain, draws, False

    def build(self, feats):
        for i, f in enumerate(feats):
            setattr(self, 'mlp_%d' % i, nn.Sequential(nn.Linear(f.shape[1], self.nc), nn.ReLU(), nn.Linear(self.nc, self.nc)).to(f.device))
        rb.init_weights(self, self.init_type, self.init_gain)
        self.built = True

    def forward(self, feats, num_patches, patch_ids=None):
        if not self.built:
            self.build(feats)
        out, ids = [], []
        for i, f in enumerate(feats):
            flat = f.permute(0, 2, 3, 1).flatten(1, 2)
            if patch_ids is not None:
                pid = patch_ids[i]
            else:
                perm = self.draws.permutation(flat.shape[1])
                pid = torch.tensor(perm[:min(num_patches, len(perm))], dtype=torch.long, device=f.device)
            x = getattr(self, 'mlp_%d' % i)(flat[:, pid, :].flatten(0, 1))
            out.append(x.div(x.pow(2).sum(1, keepdim=True).pow(0.5) + 1e-7))
            ids.append(pid)
        return out, ids


def patch_nce(q, k, batch_dim, nce_T):
    """PatchNCELoss.forward: per-patch cross-entropy of the positive against the same image's other patches."""
    n, dim = q.shape
    k = k.detach()
    pos = torch.bmm(q.view(n, 1, -1), k.view(n, -1, 1)).view(n, 1)
    qb, kb = q.view(batch_dim, -1, dim), k.view(batch_dim, -1, dim)
    neg = torch.bmm(qb, kb.transpose(2, 1))
    neg.masked_fill_(torch.eye(qb.size(1), device=q.device, dtype=torch.bool)[None], -10.0)
    logits = torch.cat((pos, neg.view(-1, qb.size(1))), dim=1) / nce_T
    return F.cross_entropy(logits, torch.zeros(logits.size(0), dtype=torch.long, device=q.device), reduction='none')


# ---- cut_model.py --------------------------------------------------------------------------------------------

class NumpyDraws:
    def permutation(self, n):
        return np.random.permutation(n)

    def random(self):
        return np.random.random()


class ReplayDraws:
    def __init__(self, permutations, flips):
        self.permutations, self.flips = list(permutations), list(flips)

    def permutation(self, n):
        p = self.permutations.pop(0)
        assert len(p) == n
        return p

    def random(self):
        return 0.0 if self.flips.pop(0) else 0.99


class Opt:
    def __init__(self, mode='CUT', netG='resnet_9blocks', ngf=64, ndf=64, netF_nc=256, num_patches=256, device='cpu'):
        self.netG, self.ngf, self.ndf, self.netF_nc, self.num_patches, self.device = netG, ngf, ndf, netF_nc, num_patches, device
        self.normG = self.normD = 'instance'
        self.init_type, self.init_gain, self.lr, self.beta1, self.beta2 = 'xavier', 0.02, 0.0002, 0.5, 0.999
        self.lambda_GAN, self.nce_T, self.nce_layers, self.batch_size = 1.0, 0.07, [0, 4, 8, 12, 16], 1
        fast = mode.lower() == 'fastcut'
        self.nce_idt, self.lambda_NCE, self.flip_equivariance = not fast, 10.0 if fast else 1.0, fast


class CUTModel:
    def __init__(self, opt, draws=None):
        self.opt, self.draws = opt, draws or NumpyDraws()
        self.netG = define_G(opt)
        self.netF = PatchSampleF(opt.netF_nc, opt.init_type, opt.init_gain, self.draws)
        self.netD = define_D(opt)
        self.gan = rb.GANLoss('lsgan').to(opt.device)
        adam = lambda net: torch.optim.Adam(net.parameters(), lr=opt.lr, betas=(opt.beta1, opt.beta2))  # noqa: E731
        self.optimizer_G, self.optimizer_D = adam(self.netG), adam(self.netD)
        self.adam = adam
        self.optimizer_F = None

    def set_input(self, data):
        self.real_A, self.real_B = data['A'].to(self.opt.device), data['B'].to(self.opt.device)

    def data_dependent_initialize(self, data):
        self.set_input(data)
        self.forward()
        self.compute_D_loss().backward()
        self.compute_G_loss().backward()
        self.optimizer_F = self.adam(self.netF)

    def forward(self):
        real = torch.cat((self.real_A, self.real_B), 0) if self.opt.nce_idt else self.real_A
        if self.opt.flip_equivariance:
            self.flipped = self.draws.random() < 0.5
            if self.flipped:
                real = torch.flip(real, [3])
        fake = self.netG(real)
        self.fake_B = fake[:self.real_A.size(0)]
        if self.opt.nce_idt:
            self.idt_B = fake[self.real_A.size(0):]

    def compute_D_loss(self):
        self.loss_D_fake = self.gan(self.netD(self.fake_B.detach()), False).mean()
        self.loss_D_real = self.gan(self.netD(self.real_B), True).mean()
        return (self.loss_D_fake + self.loss_D_real) * 0.5

    def compute_G_loss(self):
        o = self.opt
        self.loss_G_GAN = self.gan(self.netD(self.fake_B), True).mean() * o.lambda_GAN
        self.loss_NCE = self.nce(self.real_A, self.fake_B)
        both = self.loss_NCE
        if o.nce_idt:
            self.loss_NCE_Y = self.nce(self.real_B, self.idt_B)
            both = (self.loss_NCE + self.loss_NCE_Y) * 0.5
        self.loss_G = self.loss_G_GAN + both
        return self.loss_G

    def nce(self, src, tgt):
        o = self.opt
        q = self.netG(tgt, o.nce_layers, encode_only=True)
        if o.flip_equivariance and self.flipped:
            q = [torch.flip(f, [3]) for f in q]
        k = self.netG(src, o.nce_layers, encode_only=True)
        k_pool, ids = self.netF(k, o.num_patches, None)
        q_pool, _ = self.netF(q, o.num_patches, ids)
        total = 0.0
        for fq, fk in zip(q_pool, k_pool):
            total += (patch_nce(fq, fk, o.batch_size, o.nce_T) * o.lambda_NCE).mean()
        return total / len(o.nce_layers)

    def optimize_parameters(self):
        self.forward()
        for p in self.netD.parameters():
            p.requires_grad = True
        self.optimizer_D.zero_grad()
        self.compute_D_loss().backward()
        self.optimizer_D.step()
        for p in self.netD.parameters():
            p.requires_grad = False
        self.optimizer_G.zero_grad()
        self.optimizer_F.zero_grad()
        self.compute_G_loss().backward()
        self.optimizer_G.step()
        self.optimizer_F.step()

    def get_current_losses(self):
        names = ['G_GAN', 'D_real', 'D_fake', 'G', 'NCE'] + (['NCE_Y'] if self.opt.nce_idt else [])
        return {n: float(getattr(self, 'loss_' + n)) for n in names}


# ---- timing ------------------------------------------------------------------------------------------------

# (id, bench.ts row name, CUT_mode, netG, size, ngf, quick)
ROWS = [
    ('cut_256', 'train cut (CUT), resnet_9blocks @ 256x256', 'CUT', 'resnet_9blocks', 256, 64, False),
    ('fastcut_256', 'train cut (FastCUT), resnet_9blocks @ 256x256', 'FastCUT', 'resnet_9blocks', 256, 64, False),
    ('quick_cut_resnet6_ngf8', 'quick: train cut (CUT), resnet_6blocks ngf 8 @ 64', 'CUT', 'resnet_6blocks', 64, 8, True),
]


def bench_row(row, warmup, iters):
    _id, _name, mode, netG, size, ngf, _quick = row
    torch.manual_seed(0)
    np.random.seed(0)
    gen = torch.Generator().manual_seed(0)
    image = lambda: torch.rand(1, 3, size, size, generator=gen) * 2 - 1  # noqa: E731
    model = CUTModel(Opt(mode, netG=netG, ngf=ngf, ndf=ngf, netF_nc=256 if ngf == 64 else 32, num_patches=256 if ngf == 64 else 16))
    model.data_dependent_initialize({'A': image(), 'B': image()})  # bench.ts does it before timing too
    times = []
    for i in range(warmup + iters):
        data = {'A': image(), 'B': image()}
        t0 = time.perf_counter()
        model.set_input(data)
        model.optimize_parameters()
        model.get_current_losses()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def run_bench(args):
    rows = [r for r in ROWS if (r[6] if args.quick else (not r[6] or args.all))]
    if args.only:
        rows = [r for r in rows if args.only in r[1] or args.only in r[0]]
    if not args.json:
        print('CUT reference (Python) benchmark: torch %s, cpu, %d threads, warm-up %d, iters %d'
              % (torch.__version__, torch.get_num_threads(), args.warmup, args.iters))
    results = []
    for row in rows:
        times = bench_row(row, args.warmup, args.iters)
        r = {'id': row[0], 'name': row[1], 'median_s': statistics.median(times), 'min_s': min(times), 'max_s': max(times), 'iters': len(times)}
        results.append(r)
        if not args.json:
            print('%s median %.3f s (min %.3f, max %.3f, n=%d)' % (row[1].ljust(48), r['median_s'], r['min_s'], r['max_s'], r['iters']), flush=True)
    if args.json:
        print(json.dumps({'implementation': 'cut-python-reference', 'torch_version': torch.__version__, 'device': 'cpu',
                          'threads': torch.get_num_threads(), 'warmup': args.warmup, 'rows': results}, indent=2))
    return 0


# ---- --check against shared/fixtures/parity/cut -------------------------------------------------------------

def check_networks(root):
    d = os.path.join(root, 'networks', 'resnet9_antialias_basicD')
    c = json.load(open(os.path.join(d, 'case.json')))
    g, dd = c['define_G_args'], c['define_D_args']
    opt = Opt(netG=g['netG'], ngf=g['ngf'], ndf=dd['ndf'], netF_nc=c['netF_nc'], num_patches=c['num_patches'])
    torch.manual_seed(0)
    G, D = define_G(opt), define_D(opt)
    ok = True
    for net, f in ((G, 'weights_G'), (D, 'weights_D')):
        ref = rb.read_safetensors(os.path.join(d, f + '.safetensors'))
        sd = net.state_dict()
        same = list(sd) == list(ref) and all(torch.equal(sd[k], ref[k]) for k in ref)
        print('networks: %s seed-0 construction + init %s' % (f, 'bit-exact' if same else 'DIFFERS'))
        ok &= same
    io = rb.read_safetensors(os.path.join(d, 'io.safetensors'))
    G.eval(); D.eval()
    with torch.no_grad():
        out = G(io['input'])
        worst = max(rb._max_abs(out, io['output_eval']), rb._max_abs(D(out), io['D_of_output']))
        fk = G(io['input'], c['nce_layers'], encode_only=True)
        fq = G(io['input2'], c['nce_layers'], encode_only=True)
        worst = max([worst] + [rb._max_abs(f, io['features.%d' % i]) for i, f in enumerate(fk)])
        netF = PatchSampleF(c['netF_nc'], 'xavier', 0.02, None)
        torch.manual_seed(4)
        ids = [io['F.patch_ids.%d' % i] for i in range(len(fk))]
        k_pool, _ = netF(fk, c['num_patches'], ids)
        q_pool, _ = netF(fq, c['num_patches'], ids)
        refF = rb.read_safetensors(os.path.join(d, 'weights_F.safetensors'))
        f_same = all(torch.equal(netF.state_dict()[k], refF[k]) for k in refF)
        nce = torch.stack([patch_nce(q, k, 1, c['nce_T']).mean() for q, k in zip(q_pool, k_pool)])
        worst = max([worst] + [rb._max_abs(k, io['F.out_k.%d' % i]) for i, k in enumerate(k_pool)])
        rel = ((nce - io['patchnce_per_layer']).abs() / io['patchnce_per_layer'].abs()).max().item()
    good = worst <= c['tolerance']['max_abs'] and rel <= c['tolerance']['patchnce_rel']
    print('networks: forward/features/F max |diff| %.2e, PatchNCE max rel %.2e, F seed-4 init %s: %s'
          % (worst, rel, 'bit-exact' if f_same else 'differs', 'ok' if good else 'FAILED'))
    return ok and good


def check_train(root, name):
    d = os.path.join(root, 'train', name)
    c = json.load(open(os.path.join(d, 'case.json')))
    o = c['options']
    opt = Opt(o['CUT_mode'], netG=o['netG'], ngf=o['ngf'], ndf=o['ndf'], netF_nc=o['netF_nc'], num_patches=o['num_patches'])
    steps = rb.read_safetensors(os.path.join(d, 'steps.safetensors'))
    phases = ['init'] + ['step%d' % s for s in range(c['steps'])]
    perms = [steps['draws.%s.patch_ids.%d' % (p, k)].numpy() for p in phases for k in range(c['draws'][p]['patch_id_permutations'])]
    model = CUTModel(opt, ReplayDraws(perms, [f for p in phases for f in c['draws'][p]['flips']]))
    model.netF.draws = model.draws
    model.data_dependent_initialize({'A': steps['step0.A'], 'B': steps['step0.B']})
    init = rb.read_safetensors(os.path.join(d, 'initial_weights.safetensors'))
    nets = {'G': model.netG, 'F': model.netF, 'D': model.netD}
    for n, net in nets.items():
        net.load_state_dict({k[len(n) + 4:]: v for k, v in init.items() if k.startswith('net%s.' % n)})
    torch.manual_seed(3)
    worst_rel = 0.0
    for s in range(c['steps']):
        model.set_input({'A': steps['step%d.A' % s], 'B': steps['step%d.B' % s]})
        model.optimize_parameters()
        for k, ref in c['losses'][s].items():
            if abs(ref) >= 1e-3:
                worst_rel = max(worst_rel, abs(model.get_current_losses()[k] - ref) / abs(ref))
    final = rb.read_safetensors(os.path.join(d, 'final_weights.safetensors'))
    worst_w = max(rb._max_abs(net.state_dict()[k[len(n) + 4:]], v) for n, net in nets.items() for k, v in final.items() if k.startswith('net%s.' % n))
    good = worst_rel <= c['tolerance']['loss_rel'] and worst_w <= c['tolerance']['weights_max_abs']
    print('train %s: losses max rel %.2e, weights max |diff| %.2e: %s' % (name, worst_rel, worst_w, 'ok' if good else 'FAILED'))
    return good


def run_check():
    root = os.path.join(rb._fixtures_dir() or '', 'cut')
    if not os.path.isdir(root):
        print('no shared/fixtures/parity/cut found (set PARITY_FIXTURES)')
        return 1
    ok = check_networks(root)
    for name in ('cut_resnet6_default', 'fastcut_resnet6'):
        ok &= check_train(root, name)
    return 0 if ok else 1


def main(argv):
    p = rb.bench_arg_parser("Time CUT's own (transcribed) training step on the cut rows of scripts/bench.ts.",
                            'verify against shared/fixtures/parity/cut; no timing')
    args = rb.parse_bench_args(p, argv)
    return run_check() if args.check else run_bench(args)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
