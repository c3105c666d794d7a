#!/usr/bin/env python3
# Reference timing harness -- NOT part of the product (nothing imports or runs it; a developer tool only).
#
# A self-contained transcription of the Python reference's (junyanz/pytorch-CycleGAN-and-pix2pix @ 2a7afba, as
# documented in docs/reference.md of the shared docs) networks, weight init, GANLoss, ImagePool and the
# Pix2PixModel / CycleGANModel optimize_parameters, so that the reference can be timed side by side with our own
# benchmark (scripts/bench.ts) on the same machine: same rows, same row names, same warm-up/iteration defaults,
# same thread default (all cores), same timed region.
#
# Needs Debian's python3-torch (torch 1.13; /usr/bin/python3 -- if the `python3` on PATH has no torch, the script
# re-executes itself with /usr/bin/python3).
#
#   python3 scripts/reference_bench.py [--threads N] [--warmup W] [--iters N] [--only SUBSTR] [--quick|--all]
#                                      [--device cpu|cuda:0] [--json]
#   python3 scripts/reference_bench.py --check [--threads N]
#
# --check builds each network with torch.manual_seed(0) and prints parameter counts, then verifies the
# transcription against shared/fixtures/parity: network fixtures (strict load_state_dict of weights.pth, bit-exact
# seed-0 construction+init, eval/train forward within the fixture tolerance) and the two training fixtures
# (losses after each optimize_parameters step and final weights). No timed rows are run in --check mode.
import argparse
import functools
import itertools
import json
import os
import random
import statistics
import struct
import sys
import time

try:
    import torch
    import torch.nn as nn
    from torch.nn import init
except ImportError:  # pyenv/venv python3 without torch: fall back to Debian's interpreter once
    if os.path.exists('/usr/bin/python3') and not os.environ.get('REFERENCE_BENCH_REEXEC') \
            and os.path.realpath(sys.executable) != os.path.realpath('/usr/bin/python3'):
        os.environ['REFERENCE_BENCH_REEXEC'] = '1'
        os.execv('/usr/bin/python3', ['/usr/bin/python3'] + sys.argv)
    sys.exit('reference_bench.py: needs torch (Debian: apt-get install python3-torch; run with /usr/bin/python3)')


# ----------------------------------------------------------------------------------------------------------------
# models/networks.py (transcription)
# ----------------------------------------------------------------------------------------------------------------

class Identity(nn.Module):
    def forward(self, x):
        return x


def get_norm_layer(norm_type='instance'):
    if norm_type == 'batch':
        norm_layer = functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    elif norm_type == 'instance':
        norm_layer = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    elif norm_type == 'syncbatch':
        norm_layer = functools.partial(nn.SyncBatchNorm, affine=True, track_running_stats=True)
    elif norm_type == 'none':
        def norm_layer(x):
            return Identity()
    else:
        raise NotImplementedError('normalization layer [%s] is not found' % norm_type)
    return norm_layer


def _use_bias(norm_layer):
    if type(norm_layer) == functools.partial:
        return norm_layer.func == nn.InstanceNorm2d
    return norm_layer == nn.InstanceNorm2d


def init_weights(net, init_type='normal', init_gain=0.02):
    def init_func(m):
        classname = m.__class__.__name__
        if hasattr(m, 'weight') and (classname.find('Conv') != -1 or classname.find('Linear') != -1):
            if init_type == 'normal':
                init.normal_(m.weight.data, 0.0, init_gain)
            elif init_type == 'xavier':
                init.xavier_normal_(m.weight.data, gain=init_gain)
            elif init_type == 'kaiming':
                init.kaiming_normal_(m.weight.data, a=0, mode='fan_in')
            elif init_type == 'orthogonal':
                init.orthogonal_(m.weight.data, gain=init_gain)
            else:
                raise NotImplementedError('initialization method [%s] is not implemented' % init_type)
            if hasattr(m, 'bias') and m.bias is not None:
                init.constant_(m.bias.data, 0.0)
        elif classname.find('BatchNorm2d') != -1:
            init.normal_(m.weight.data, 1.0, init_gain)
            init.constant_(m.bias.data, 0.0)

    net.apply(init_func)


def init_net(net, init_type='normal', init_gain=0.02, device='cpu'):
    # 2025 reference: called from BaseModel.setup() for every net after all nets were constructed; on CUDA the net is
    # moved first, so the normal_ draws then come from the CUDA generator.
    net.to(device)
    init_weights(net, init_type, init_gain=init_gain)
    return net


def define_G(input_nc, output_nc, ngf, netG, norm='batch', use_dropout=False):
    # 2025 reference: construction only (PyTorch default init); init_net happens in setup().
    norm_layer = get_norm_layer(norm_type=norm)
    if netG == 'resnet_9blocks':
        return ResnetGenerator(input_nc, output_nc, ngf, norm_layer=norm_layer, use_dropout=use_dropout, n_blocks=9)
    if netG == 'resnet_6blocks':
        return ResnetGenerator(input_nc, output_nc, ngf, norm_layer=norm_layer, use_dropout=use_dropout, n_blocks=6)
    if netG == 'unet_128':
        return UnetGenerator(input_nc, output_nc, 7, ngf, norm_layer=norm_layer, use_dropout=use_dropout)
    if netG == 'unet_256':
        return UnetGenerator(input_nc, output_nc, 8, ngf, norm_layer=norm_layer, use_dropout=use_dropout)
    raise NotImplementedError('Generator model name [%s] is not recognized' % netG)


def define_D(input_nc, ndf, netD, n_layers_D=3, norm='batch'):
    norm_layer = get_norm_layer(norm_type=norm)
    if netD == 'basic':
        return NLayerDiscriminator(input_nc, ndf, n_layers=3, norm_layer=norm_layer)
    if netD == 'n_layers':
        return NLayerDiscriminator(input_nc, ndf, n_layers_D, norm_layer=norm_layer)
    if netD == 'pixel':
        return PixelDiscriminator(input_nc, ndf, norm_layer=norm_layer)
    raise NotImplementedError('Discriminator model name [%s] is not recognized' % netD)


class GANLoss(nn.Module):
    def __init__(self, gan_mode, target_real_label=1.0, target_fake_label=0.0):
        super().__init__()
        self.register_buffer('real_label', torch.tensor(target_real_label))
        self.register_buffer('fake_label', torch.tensor(target_fake_label))
        self.gan_mode = gan_mode
        if gan_mode == 'lsgan':
            self.loss = nn.MSELoss()
        elif gan_mode == 'vanilla':
            self.loss = nn.BCEWithLogitsLoss()
        elif gan_mode in ['wgangp']:
            self.loss = None
        else:
            raise NotImplementedError('gan mode %s not implemented' % gan_mode)

    def get_target_tensor(self, prediction, target_is_real):
        target_tensor = self.real_label if target_is_real else self.fake_label
        return target_tensor.expand_as(prediction)

    def __call__(self, prediction, target_is_real):
        if self.gan_mode in ['lsgan', 'vanilla']:
            target_tensor = self.get_target_tensor(prediction, target_is_real)
            loss = self.loss(prediction, target_tensor)
        elif self.gan_mode == 'wgangp':
            loss = -prediction.mean() if target_is_real else prediction.mean()
        return loss


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf=64, norm_layer=nn.BatchNorm2d, use_dropout=False, n_blocks=6,
                 padding_type='reflect'):
        assert n_blocks >= 0
        super().__init__()
        use_bias = _use_bias(norm_layer)
        model = [nn.ReflectionPad2d(3),
                 nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
                 norm_layer(ngf),
                 nn.ReLU(True)]
        n_downsampling = 2
        for i in range(n_downsampling):
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
                      norm_layer(ngf * mult * 2),
                      nn.ReLU(True)]
        mult = 2 ** n_downsampling
        for i in range(n_blocks):
            model += [ResnetBlock(ngf * mult, padding_type=padding_type, norm_layer=norm_layer,
                                  use_dropout=use_dropout, use_bias=use_bias)]
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            model += [nn.ConvTranspose2d(ngf * mult, int(ngf * mult / 2), kernel_size=3, stride=2, padding=1,
                                         output_padding=1, bias=use_bias),
                      norm_layer(int(ngf * mult / 2)),
                      nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3)]
        model += [nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0)]
        model += [nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, input):
        return self.model(input)


class ResnetBlock(nn.Module):
    def __init__(self, dim, padding_type, norm_layer, use_dropout, use_bias):
        super().__init__()
        self.conv_block = self.build_conv_block(dim, padding_type, norm_layer, use_dropout, use_bias)

    def build_conv_block(self, dim, padding_type, norm_layer, use_dropout, use_bias):
        conv_block = []
        p = 0
        if padding_type == 'reflect':
            conv_block += [nn.ReflectionPad2d(1)]
        elif padding_type == 'replicate':
            conv_block += [nn.ReplicationPad2d(1)]
        elif padding_type == 'zero':
            p = 1
        else:
            raise NotImplementedError('padding [%s] is not implemented' % padding_type)
        conv_block += [nn.Conv2d(dim, dim, kernel_size=3, padding=p, bias=use_bias), norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            conv_block += [nn.Dropout(0.5)]
        p = 0
        if padding_type == 'reflect':
            conv_block += [nn.ReflectionPad2d(1)]
        elif padding_type == 'replicate':
            conv_block += [nn.ReplicationPad2d(1)]
        elif padding_type == 'zero':
            p = 1
        else:
            raise NotImplementedError('padding [%s] is not implemented' % padding_type)
        conv_block += [nn.Conv2d(dim, dim, kernel_size=3, padding=p, bias=use_bias), norm_layer(dim)]
        return nn.Sequential(*conv_block)

    def forward(self, x):
        out = x + self.conv_block(x)
        return out


class UnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, num_downs, ngf=64, norm_layer=nn.BatchNorm2d, use_dropout=False):
        super().__init__()
        unet_block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, input_nc=None, submodule=None, norm_layer=norm_layer,
                                             innermost=True)
        for i in range(num_downs - 5):
            unet_block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, input_nc=None, submodule=unet_block,
                                                 norm_layer=norm_layer, use_dropout=use_dropout)
        unet_block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, input_nc=None, submodule=unet_block, norm_layer=norm_layer)
        unet_block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, input_nc=None, submodule=unet_block, norm_layer=norm_layer)
        unet_block = UnetSkipConnectionBlock(ngf, ngf * 2, input_nc=None, submodule=unet_block, norm_layer=norm_layer)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=unet_block, outermost=True,
                                             norm_layer=norm_layer)

    def forward(self, input):
        return self.model(input)


class UnetSkipConnectionBlock(nn.Module):
    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
                 norm_layer=nn.BatchNorm2d, use_dropout=False):
        super().__init__()
        self.outermost = outermost
        use_bias = _use_bias(norm_layer)
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = norm_layer(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = norm_layer(outer_nc)

        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            down = [downconv]
            up = [uprelu, upconv, nn.Tanh()]
            model = down + [submodule] + up
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            down = [downrelu, downconv]
            up = [uprelu, upconv, upnorm]
            model = down + up
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            down = [downrelu, downconv, downnorm]
            up = [uprelu, upconv, upnorm]
            if use_dropout:
                model = down + [submodule] + up + [nn.Dropout(0.5)]
            else:
                model = down + [submodule] + up
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, n_layers=3, norm_layer=nn.BatchNorm2d):
        super().__init__()
        use_bias = _use_bias(norm_layer)
        kw = 4
        padw = 1
        sequence = [nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]
        nf_mult = 1
        nf_mult_prev = 1
        for n in range(1, n_layers):
            nf_mult_prev = nf_mult
            nf_mult = min(2 ** n, 8)
            sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=2, padding=padw,
                                   bias=use_bias),
                         norm_layer(ndf * nf_mult),
                         nn.LeakyReLU(0.2, True)]
        nf_mult_prev = nf_mult
        nf_mult = min(2 ** n_layers, 8)
        sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=1, padding=padw, bias=use_bias),
                     norm_layer(ndf * nf_mult),
                     nn.LeakyReLU(0.2, True)]
        sequence += [nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw)]
        self.model = nn.Sequential(*sequence)

    def forward(self, input):
        return self.model(input)


class PixelDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, norm_layer=nn.BatchNorm2d):
        super().__init__()
        use_bias = _use_bias(norm_layer)
        self.net = [nn.Conv2d(input_nc, ndf, kernel_size=1, stride=1, padding=0),
                    nn.LeakyReLU(0.2, True),
                    nn.Conv2d(ndf, ndf * 2, kernel_size=1, stride=1, padding=0, bias=use_bias),
                    norm_layer(ndf * 2),
                    nn.LeakyReLU(0.2, True),
                    nn.Conv2d(ndf * 2, 1, kernel_size=1, stride=1, padding=0, bias=use_bias)]
        self.net = nn.Sequential(*self.net)

    def forward(self, input):
        return self.net(input)


# ----------------------------------------------------------------------------------------------------------------
# util/image_pool.py (transcription)
# ----------------------------------------------------------------------------------------------------------------

class ImagePool:
    def __init__(self, pool_size):
        self.pool_size = pool_size
        if self.pool_size > 0:
            self.num_imgs = 0
            self.images = []

    def query(self, images):
        if self.pool_size == 0:
            return images
        return_images = []
        for image in images:
            image = torch.unsqueeze(image.data, 0)
            if self.num_imgs < self.pool_size:
                self.num_imgs = self.num_imgs + 1
                self.images.append(image)
                return_images.append(image)
            else:
                p = random.uniform(0, 1)
                if p > 0.5:
                    random_id = random.randint(0, self.pool_size - 1)
                    tmp = self.images[random_id].clone()
                    self.images[random_id] = image
                    return_images.append(tmp)
                else:
                    return_images.append(image)
        return torch.cat(return_images, 0)


# ----------------------------------------------------------------------------------------------------------------
# models/base_model.py, pix2pix_model.py, cycle_gan_model.py (the training-step parts, transcription)
# ----------------------------------------------------------------------------------------------------------------

class Opt:
    """The resolved options the two models read (reference defaults for each model, train mode)."""

    def __init__(self, model, **overrides):
        self.model = model
        self.input_nc = 3
        self.output_nc = 3
        self.ngf = 64
        self.ndf = 64
        self.netD = 'basic'
        self.n_layers_D = 3
        self.init_type = 'normal'
        self.init_gain = 0.02
        self.direction = 'AtoB'
        self.lr = 0.0002
        self.beta1 = 0.5
        self.isTrain = True
        self.device = 'cpu'
        if model == 'pix2pix':
            self.netG, self.norm, self.no_dropout = 'unet_256', 'batch', False
            self.gan_mode, self.pool_size, self.lambda_L1 = 'vanilla', 0, 100.0
        elif model == 'cycle_gan':
            self.netG, self.norm, self.no_dropout = 'resnet_9blocks', 'instance', True
            self.gan_mode, self.pool_size = 'lsgan', 50
            self.lambda_A, self.lambda_B, self.lambda_identity = 10.0, 10.0, 0.5
        else:
            raise ValueError(model)
        for k, v in overrides.items():
            setattr(self, k, v)


class BaseModel:
    def __init__(self, opt):
        self.opt = opt
        self.isTrain = opt.isTrain
        self.device = torch.device(opt.device)
        if self.device.type == 'cuda':
            torch.backends.cudnn.benchmark = True
        self.loss_names = []
        self.model_names = []
        self.visual_names = []
        self.optimizers = []
        self.image_paths = []

    def setup(self, opt):
        # 2025 reference: init every net (model_names order) after all were constructed; no checkpoint loading here.
        for name in self.model_names:
            net = getattr(self, 'net' + name)
            init_net(net, opt.init_type, opt.init_gain, self.device)
            net.to(self.device)

    def train(self):
        for name in self.model_names:
            getattr(self, 'net' + name).train()

    def eval(self):
        for name in self.model_names:
            getattr(self, 'net' + name).eval()

    def get_current_losses(self):
        return {name: float(getattr(self, 'loss_' + name)) for name in self.loss_names}

    def get_current_visuals(self):
        return {name: getattr(self, name) for name in self.visual_names}

    def set_input(self, input):
        # The same in the reference's Pix2PixModel and CycleGANModel; written once here.
        AtoB = self.opt.direction == 'AtoB'
        self.real_A = input['A' if AtoB else 'B'].to(self.device)
        self.real_B = input['B' if AtoB else 'A'].to(self.device)
        self.image_paths = input.get('A_paths' if AtoB else 'B_paths')

    def set_requires_grad(self, nets, requires_grad=False):
        if not isinstance(nets, list):
            nets = [nets]
        for net in nets:
            if net is not None:
                for param in net.parameters():
                    param.requires_grad = requires_grad


class Pix2PixModel(BaseModel):
    def __init__(self, opt):
        super().__init__(opt)
        self.loss_names = ['G_GAN', 'G_L1', 'D_real', 'D_fake']
        self.visual_names = ['real_A', 'fake_B', 'real_B']
        self.model_names = ['G', 'D'] if self.isTrain else ['G']
        self.netG = define_G(opt.input_nc, opt.output_nc, opt.ngf, opt.netG, opt.norm, not opt.no_dropout)
        if self.isTrain:
            self.netD = define_D(opt.input_nc + opt.output_nc, opt.ndf, opt.netD, opt.n_layers_D, opt.norm)
            self.criterionGAN = GANLoss(opt.gan_mode).to(self.device)
            self.criterionL1 = torch.nn.L1Loss()
            self.optimizer_G = torch.optim.Adam(self.netG.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))
            self.optimizer_D = torch.optim.Adam(self.netD.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))
            self.optimizers.append(self.optimizer_G)
            self.optimizers.append(self.optimizer_D)

    def forward(self):
        self.fake_B = self.netG(self.real_A)

    def backward_D(self):
        fake_AB = torch.cat((self.real_A, self.fake_B), 1)
        pred_fake = self.netD(fake_AB.detach())
        self.loss_D_fake = self.criterionGAN(pred_fake, False)
        real_AB = torch.cat((self.real_A, self.real_B), 1)
        pred_real = self.netD(real_AB)
        self.loss_D_real = self.criterionGAN(pred_real, True)
        self.loss_D = (self.loss_D_fake + self.loss_D_real) * 0.5
        self.loss_D.backward()

    def backward_G(self):
        fake_AB = torch.cat((self.real_A, self.fake_B), 1)
        pred_fake = self.netD(fake_AB)
        self.loss_G_GAN = self.criterionGAN(pred_fake, True)
        self.loss_G_L1 = self.criterionL1(self.fake_B, self.real_B) * self.opt.lambda_L1
        self.loss_G = self.loss_G_GAN + self.loss_G_L1
        self.loss_G.backward()

    def optimize_parameters(self):
        self.forward()
        self.set_requires_grad(self.netD, True)
        self.optimizer_D.zero_grad()
        self.backward_D()
        self.optimizer_D.step()
        self.set_requires_grad(self.netD, False)
        self.optimizer_G.zero_grad()
        self.backward_G()
        self.optimizer_G.step()


class CycleGANModel(BaseModel):
    def __init__(self, opt):
        super().__init__(opt)
        self.loss_names = ['D_A', 'G_A', 'cycle_A', 'idt_A', 'D_B', 'G_B', 'cycle_B', 'idt_B']
        visual_names_A = ['real_A', 'fake_B', 'rec_A']
        visual_names_B = ['real_B', 'fake_A', 'rec_B']
        if self.isTrain and self.opt.lambda_identity > 0.0:
            visual_names_A.append('idt_B')
            visual_names_B.append('idt_A')
        self.visual_names = visual_names_A + visual_names_B
        self.model_names = ['G_A', 'G_B', 'D_A', 'D_B'] if self.isTrain else ['G_A', 'G_B']
        self.netG_A = define_G(opt.input_nc, opt.output_nc, opt.ngf, opt.netG, opt.norm, not opt.no_dropout)
        self.netG_B = define_G(opt.output_nc, opt.input_nc, opt.ngf, opt.netG, opt.norm, not opt.no_dropout)
        if self.isTrain:
            self.netD_A = define_D(opt.output_nc, opt.ndf, opt.netD, opt.n_layers_D, opt.norm)
            self.netD_B = define_D(opt.input_nc, opt.ndf, opt.netD, opt.n_layers_D, opt.norm)
            if opt.lambda_identity > 0.0:
                assert opt.input_nc == opt.output_nc
            self.fake_A_pool = ImagePool(opt.pool_size)
            self.fake_B_pool = ImagePool(opt.pool_size)
            self.criterionGAN = GANLoss(opt.gan_mode).to(self.device)
            self.criterionCycle = torch.nn.L1Loss()
            self.criterionIdt = torch.nn.L1Loss()
            self.optimizer_G = torch.optim.Adam(itertools.chain(self.netG_A.parameters(), self.netG_B.parameters()),
                                                lr=opt.lr, betas=(opt.beta1, 0.999))
            self.optimizer_D = torch.optim.Adam(itertools.chain(self.netD_A.parameters(), self.netD_B.parameters()),
                                                lr=opt.lr, betas=(opt.beta1, 0.999))
            self.optimizers.append(self.optimizer_G)
            self.optimizers.append(self.optimizer_D)

    def forward(self):
        self.fake_B = self.netG_A(self.real_A)
        self.rec_A = self.netG_B(self.fake_B)
        self.fake_A = self.netG_B(self.real_B)
        self.rec_B = self.netG_A(self.fake_A)

    def backward_D_basic(self, netD, real, fake):
        pred_real = netD(real)
        loss_D_real = self.criterionGAN(pred_real, True)
        pred_fake = netD(fake.detach())
        loss_D_fake = self.criterionGAN(pred_fake, False)
        loss_D = (loss_D_real + loss_D_fake) * 0.5
        loss_D.backward()
        return loss_D

    def backward_D_A(self):
        fake_B = self.fake_B_pool.query(self.fake_B)
        self.loss_D_A = self.backward_D_basic(self.netD_A, self.real_B, fake_B)

    def backward_D_B(self):
        fake_A = self.fake_A_pool.query(self.fake_A)
        self.loss_D_B = self.backward_D_basic(self.netD_B, self.real_A, fake_A)

    def backward_G(self):
        lambda_idt = self.opt.lambda_identity
        lambda_A = self.opt.lambda_A
        lambda_B = self.opt.lambda_B
        if lambda_idt > 0:
            self.idt_A = self.netG_A(self.real_B)
            self.loss_idt_A = self.criterionIdt(self.idt_A, self.real_B) * lambda_B * lambda_idt
            self.idt_B = self.netG_B(self.real_A)
            self.loss_idt_B = self.criterionIdt(self.idt_B, self.real_A) * lambda_A * lambda_idt
        else:
            self.loss_idt_A = 0
            self.loss_idt_B = 0
        self.loss_G_A = self.criterionGAN(self.netD_A(self.fake_B), True)
        self.loss_G_B = self.criterionGAN(self.netD_B(self.fake_A), True)
        self.loss_cycle_A = self.criterionCycle(self.rec_A, self.real_A) * lambda_A
        self.loss_cycle_B = self.criterionCycle(self.rec_B, self.real_B) * lambda_B
        self.loss_G = (self.loss_G_A + self.loss_G_B + self.loss_cycle_A + self.loss_cycle_B
                       + self.loss_idt_A + self.loss_idt_B)
        self.loss_G.backward()

    def optimize_parameters(self):
        self.forward()
        self.set_requires_grad([self.netD_A, self.netD_B], False)
        self.optimizer_G.zero_grad()
        self.backward_G()
        self.optimizer_G.step()
        self.set_requires_grad([self.netD_A, self.netD_B], True)
        self.optimizer_D.zero_grad()
        self.backward_D_A()
        self.backward_D_B()
        self.optimizer_D.step()


def create_model(opt):
    model = Pix2PixModel(opt) if opt.model == 'pix2pix' else CycleGANModel(opt)
    model.setup(opt)
    return model  # nets are in train() mode (nn.Module default), as in train.py


# ----------------------------------------------------------------------------------------------------------------
# Benchmark rows: the same rows, names, defaults and timed regions as scripts/bench.ts
# ----------------------------------------------------------------------------------------------------------------

# (id, bench.ts name, kind, model, netG, size, ngf, quick)
ROWS = [
    ('pix2pix_unet256', 'train pix2pix, unet_256 @ 256x256', 'train', 'pix2pix', 'unet_256', 256, 64, False),
    ('pix2pix_unet128', 'train pix2pix, unet_128 @ 128x128', 'train', 'pix2pix', 'unet_128', 128, 64, False),
    ('cycle_gan_256', 'train cycle_gan, resnet_9blocks @ 256x256', 'train', 'cycle_gan', 'resnet_9blocks', 256, 64, False),
    ('cycle_gan_128', 'train cycle_gan, resnet_9blocks @ 128x128', 'train', 'cycle_gan', 'resnet_9blocks', 128, 64, False),
    ('unet256_forward', 'one unet_256 forward @ 256x256', 'forward', None, 'unet_256', 256, 64, False),
    ('resnet9_forward', 'one resnet_9blocks forward @ 256x256', 'forward', None, 'resnet_9blocks', 256, 64, False),
    ('quick_pix2pix_unet128_ngf16', 'quick: train pix2pix, unet_128 ngf 16 @ 128', 'train', 'pix2pix', 'unet_128', 128, 16, True),
    ('quick_cycle_gan_resnet6_ngf8', 'quick: train cycle_gan, resnet_6blocks ngf 8 @ 64', 'train', 'cycle_gan', 'resnet_6blocks', 64, 8, True),
    ('quick_resnet9_ngf16_forward', 'quick: resnet_9blocks ngf 16 forward @ 128', 'forward', None, 'resnet_9blocks', 128, 16, True),
]


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def bench_row(row, device, warmup, iters):
    _id, _name, kind, model_name, netG, size, ngf, _quick = row
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)  # inputs: uniform in [-1, 1), batch 1, fixed seed, made outside the timing

    def random_image():
        return torch.rand(1, 3, size, size, generator=gen) * 2 - 1

    times = []
    if kind == 'forward':
        # bench.ts: defineG({netG, ngf, norm}) (dropout off), g.eval(), forward under no-grad, output copied to CPU.
        norm = 'batch' if netG.startswith('unet') else 'instance'
        g = init_net(define_G(3, 3, ngf, netG, norm, use_dropout=False), device=device)
        g.eval()
        x = random_image().to(device)
        for i in range(warmup + iters):
            t0 = time.perf_counter()
            with torch.no_grad():
                y = g(x).cpu()
            _sync(device)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
            del y
        return times
    # bench.ts: createModel(--model M --netG G --ngf n --ndf n --crop_size s --load_size s --seed 0); per iteration
    # timed: setInput + optimizeParameters + getCurrentLosses (which forces the step to finish).
    model = create_model(Opt(model_name, netG=netG, ngf=ngf, ndf=ngf, device=str(device)))
    for i in range(warmup + iters):
        data = {'A': random_image(), 'B': random_image()}
        t0 = time.perf_counter()
        model.set_input(data)
        model.optimize_parameters()
        model.get_current_losses()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def run_bench(args):
    device = torch.device(args.device)
    rows = [r for r in ROWS if (r[7] if args.quick else (not r[7] or args.all))]
    if args.only:
        rows = [r for r in rows if args.only in r[1] or args.only in r[0]]
    if not args.json:
        print('reference (Python) benchmark: torch %s, device %s, %d threads, warm-up %d, iters %d'
              % (torch.__version__, device, torch.get_num_threads(), args.warmup, args.iters))
    results = []
    for row in rows:
        times = bench_row(row, device, args.warmup, args.iters)
        med = statistics.median(times)
        r = {'id': row[0], 'name': row[1], 'median_s': med, 'min_s': min(times), 'max_s': max(times), 'iters': len(times)}
        results.append(r)
        if not args.json:
            print('%s median %.3f s (min %.3f, max %.3f, n=%d)'
                  % (row[1].ljust(48), med, r['min_s'], r['max_s'], r['iters']), flush=True)
    if args.json:
        print(json.dumps({'implementation': 'python-reference', 'torch_version': torch.__version__, 'device': str(device),
                          'threads': torch.get_num_threads(), 'warmup': args.warmup, 'rows': results}, indent=2))
    return 0


# ----------------------------------------------------------------------------------------------------------------
# --check: parameter counts and fixture verification
# ----------------------------------------------------------------------------------------------------------------

def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fixtures_dir():
    for d in (os.environ.get('PARITY_FIXTURES'), os.path.join(_repo_root(), 'shared', 'fixtures', 'parity'),
              '/work/shared/fixtures/parity'):
        if d and os.path.isdir(d):
            return d
    return None


def read_safetensors(path):
    """Minimal safetensors reader (the python package is not a dependency): 8-byte LE header length, JSON header,
    raw little-endian data."""
    dtypes = {'F32': torch.float32, 'F64': torch.float64, 'F16': torch.float16, 'I64': torch.int64,
              'I32': torch.int32, 'U8': torch.uint8, 'BOOL': torch.bool}
    with open(path, 'rb') as f:
        buf = f.read()
    n = struct.unpack('<Q', buf[:8])[0]
    header = json.loads(buf[8:8 + n])
    base = 8 + n
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        b, e = v['data_offsets']
        dt = dtypes[v['dtype']]
        t = torch.frombuffer(bytearray(buf[base + b:base + e]), dtype=dt) if e > b else torch.empty(0, dtype=dt)
        out[k] = t.reshape(v['shape']).clone()
    return out


def n_params(net):
    return sum(p.numel() for p in net.parameters())


def _max_abs(a, b):
    return (a.double() - b.double()).abs().max().item() if a.numel() else 0.0


def check_param_counts():
    expected = [  # (label, builder, reference count as printed by print_networks)
        ('G unet_256 (batch, dropout)', lambda: define_G(3, 3, 64, 'unet_256', 'batch', True), '54.414'),
        ('G unet_128 (batch, dropout)', lambda: define_G(3, 3, 64, 'unet_128', 'batch', True), '41.829'),
        ('G resnet_9blocks (instance)', lambda: define_G(3, 3, 64, 'resnet_9blocks', 'instance', False), '11.378'),
        ('G resnet_6blocks (instance)', lambda: define_G(3, 3, 64, 'resnet_6blocks', 'instance', False), '7.838'),
        ('G resnet_9blocks (batch)', lambda: define_G(3, 3, 64, 'resnet_9blocks', 'batch', False), '11.383'),
        ('D basic, 6 input channels (batch)', lambda: define_D(6, 64, 'basic', 3, 'batch'), '2.769'),
        ('D basic, 3 input channels (instance)', lambda: define_D(3, 64, 'basic', 3, 'instance'), '2.765'),
    ]
    ok = True
    print('parameter counts (torch.manual_seed(0), default ngf=ndf=64):')
    for label, build, want in expected:
        torch.manual_seed(0)
        net = build()
        init_weights(net, 'normal', 0.02)
        got = '%.3f' % (n_params(net) / 1e6)
        good = got == want
        ok &= good
        print('  %-40s %s M (reference %s M) %s' % (label, got, want, 'OK' if good else 'MISMATCH'))
        del net
    return ok


def check_network_fixtures(root):
    ok = True
    base = os.path.join(root, 'networks')
    print('network fixtures (%s):' % base)
    for case in sorted(os.listdir(base)):
        d = os.path.join(base, case)
        cj = json.load(open(os.path.join(d, 'case.json')))
        a = cj['define_args']
        tol = cj.get('tolerance', {}).get('max_abs', 1e-4)

        def build():
            if cj['network'] == 'G':
                return define_G(a['input_nc'], a['output_nc'], a['ngf'], a['netG'], a['norm'], a['use_dropout'])
            return define_D(a['input_nc'], a['ndf'], a['netD'], a.get('n_layers_D', 3), a['norm'])

        torch.manual_seed(0)
        net = build()
        init_weights(net, cj['init_type'], cj['init_gain'])
        sd = net.state_dict()
        ref_w = read_safetensors(os.path.join(d, 'weights.safetensors'))
        keys_ok = list(sd.keys()) == cj['state_dict_keys'] and set(ref_w) == set(sd)
        shapes_ok = all(list(sd[k].shape) == cj['shapes'][k] for k in sd)
        seed_exact = keys_ok and all(torch.equal(sd[k], ref_w[k]) for k in sd)
        msgs = ['keys/shapes %s' % ('OK' if keys_ok and shapes_ok else 'MISMATCH'),
                'seed-0 construction+init bit-exact: %s' % ('yes' if seed_exact else 'NO')]
        case_ok = keys_ok and shapes_ok
        # strict loads: weights.pth (zip), weights_legacy.pth, else weights.safetensors
        for fname in ('weights.pth', 'weights_legacy.pth'):
            p = os.path.join(d, fname)
            if os.path.exists(p):
                try:
                    fresh = build()
                    fresh.load_state_dict(torch.load(p, map_location='cpu'), strict=True)
                    same = all(torch.equal(fresh.state_dict()[k], ref_w[k]) for k in ref_w)
                    msgs.append('%s strict load OK%s' % (fname, '' if same else ' (but values differ from safetensors!)'))
                    case_ok &= same
                except Exception as e:  # noqa: BLE001 -- report and continue
                    msgs.append('%s strict load FAILED: %s' % (fname, str(e).splitlines()[0]))
                    case_ok = False
        net = build()
        net.load_state_dict(ref_w, strict=True)
        io = read_safetensors(os.path.join(d, 'io.safetensors'))
        x = io['input']
        net.eval()
        with torch.no_grad():
            y_eval = net(x)
        e_eval = _max_abs(y_eval, io['output_eval'])
        net.train()
        torch.manual_seed(2)
        with torch.no_grad():
            y_train = net(x)
        e_train = _max_abs(y_train, io['output_train'])
        sd2 = net.state_dict()
        stats = [k[len('after_train_forward.'):] for k in io if k.startswith('after_train_forward.')]
        e_stats = max([_max_abs(sd2[k], io['after_train_forward.' + k]) for k in stats] or [0.0])
        case_ok &= e_eval <= tol and e_train <= tol and e_stats <= tol
        msgs.append('eval output max|diff| %.2e, train output (seed 2) %.2e%s (tol %g)'
                    % (e_eval, e_train, ', running stats %.2e' % e_stats if stats else '', tol))
        ok &= case_ok
        print('  %-28s %s: %s' % (case, 'OK' if case_ok else 'FAIL', '; '.join(msgs)))
    return ok


def check_train_fixtures(root):
    ok = True
    base = os.path.join(root, 'train')
    print('training fixtures (%s):' % base)
    for case in sorted(os.listdir(base)):
        d = os.path.join(base, case)
        cj = json.load(open(os.path.join(d, 'case.json')))
        o = cj['options']
        keep = ('input_nc', 'output_nc', 'ngf', 'ndf', 'netD', 'netG', 'n_layers_D', 'norm', 'init_type', 'init_gain',
                'no_dropout', 'direction', 'lr', 'beta1', 'gan_mode', 'pool_size', 'lambda_L1', 'lambda_A', 'lambda_B',
                'lambda_identity')
        opt = Opt(o['model'], **{k: o[k] for k in keep if k in o})
        torch.manual_seed(0)
        model = create_model(opt)
        init_w = read_safetensors(os.path.join(d, 'initial_weights.safetensors'))
        for name in model.model_names:
            net = getattr(model, 'net' + name)
            pre = 'net%s.' % name
            net.load_state_dict({k[len(pre):]: v for k, v in init_w.items() if k.startswith(pre)}, strict=True)
        steps = read_safetensors(os.path.join(d, 'steps.safetensors'))
        random.seed(0)  # only consulted by ImagePool once its pool is full (never within these short runs)
        torch.manual_seed(3)
        worst_rel = 0.0
        loss_ok = True
        tol = cj['tolerance']
        for s in range(cj['steps']):
            model.set_input({'A': steps['step%d.A' % s], 'B': steps['step%d.B' % s]})
            model.optimize_parameters()
            got = model.get_current_losses()
            for k, want in cj['losses'][s].items():
                if abs(want) < 1e-3:
                    good = abs(got[k] - want) <= tol['loss_abs_when_ref_below_1e-3']
                else:
                    rel = abs(got[k] - want) / abs(want)
                    worst_rel = max(worst_rel, rel)
                    good = rel <= tol['loss_rel']
                loss_ok &= good
        vis = model.get_current_visuals()
        e_vis = max(_max_abs(vis[k].detach(), steps['last_step.' + k]) for k in vis if 'last_step.' + k in steps)
        final_w = read_safetensors(os.path.join(d, 'final_weights.safetensors'))
        total = within = 0
        e_w = 0.0
        for name in model.model_names:
            for k, v in getattr(model, 'net' + name).state_dict().items():
                ref = final_w['net%s.%s' % (name, k)]
                if not v.is_floating_point():
                    loss_ok &= torch.equal(v, ref)
                    continue
                diff = (v.double() - ref.double()).abs()
                total += diff.numel()
                within += int((diff <= 1e-4).sum())
                e_w = max(e_w, diff.max().item())
        share = within / max(total, 1)
        case_ok = (loss_ok and e_vis <= tol['visuals_max_abs'] and share >= tol['weights_share_within_1e-4']
                   and e_w <= tol['weights_max_abs'])
        ok &= case_ok
        print('  %-34s %s: %d steps, losses worst rel diff %.2e (tol %g), last visuals max|diff| %.2e, final weights '
              'max|diff| %.2e, %.4f%% within 1e-4' % (case, 'OK' if case_ok else 'FAIL', cj['steps'], worst_rel,
                                                      tol['loss_rel'], e_vis, e_w, 100 * share))
    return ok


def run_check():
    print('reference_bench.py --check: torch %s, %d threads' % (torch.__version__, torch.get_num_threads()))
    ok = check_param_counts()
    root = _fixtures_dir()
    if root is None:
        print('parity fixtures not found (set PARITY_FIXTURES); skipping fixture checks')
    else:
        ok &= check_network_fixtures(root)
        ok &= check_train_fixtures(root)
    print('check: %s' % ('all OK' if ok else 'FAILED'))
    return 0 if ok else 1


def bench_arg_parser(description, check_help):
    """The flags every reference timing script shares with scripts/bench.ts (reference_cut_bench.py uses it too)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--threads', type=int, default=0, help='torch.set_num_threads; 0 (default) = all cores, as bench.ts')
    p.add_argument('--warmup', type=int, default=None, help='warm-up iterations per row (default 2, --quick 1)')
    p.add_argument('--iters', type=int, default=None, help='timed iterations per row (default 5, --quick 2)')
    p.add_argument('--only', default='', help='only rows whose bench.ts name or id contains this substring')
    p.add_argument('--quick', action='store_true', help='only the small "quick:" rows (as bench.ts --quick)')
    p.add_argument('--all', action='store_true', help='the full-size rows and the quick rows')
    p.add_argument('--json', action='store_true', help='print one JSON object with all rows (for bench.ts --compare)')
    p.add_argument('--check', action='store_true', help=check_help)
    return p


def parse_bench_args(p, argv):
    """Parses argv and applies the shared defaults: threads, warm-up and iteration counts."""
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads if args.threads > 0 else max(1, os.cpu_count() or 1))
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2
    if args.iters is None:
        args.iters = 2 if args.quick else 5
    if args.iters < 1:
        p.error('--iters must be >= 1')
    return args


def main(argv):
    p = bench_arg_parser('Time the Python reference (transcribed) on the rows of scripts/bench.ts.',
                         'parameter counts and fixture verification; no timing')
    p.add_argument('--device', default='cpu', help='cpu (default) or cuda[:N]')
    args = parse_bench_args(p, argv)
    if args.check:
        return run_check()
    return run_bench(args)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
